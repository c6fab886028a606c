"""The rule layer: intent patterns per policy category, compiled once into one matcher.

Rules look for *requests for harm* — an act (make, hack, steal, kill, …) joined to what makes it harmful
(a person as the target, a weapon, someone else's account, evading the police) — not for topics, so that
"how do I kill a Python process", "shoot a portrait" or "the history of the atomic bomb" pass. Protective
framing ("how do I protect myself from phishing") passes unless a strong pattern also matches. Rules
never use refusal vocabulary ("harm", "illegal", "unethical" alone), and the output check uses only the
`output` patterns: a model's refusal or a news summary must not be blocked (DESIGN.md §5a).

Patterns run on `normalize()`d text (lower case, evasions folded). Operators add their own patterns per
category in the policy file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# ------------------------------------------------------------------ vocabulary

_PERSON = (
    r"(?:some(?:one|body)|any(?:one|body)|people|persons?|(?:a|the|my|his|her|your|our|their|that) "
    r"(?:\w+ )?(?:person|man|woman|guy|girl|boy|kid|child|baby|wife|husband|partner|girlfriend|boyfriend|"
    r"neighbou?r|boss|teacher|coworker|colleague|friend|ex|mother|father|mom|dad|brother|sister|family|"
    r"roommate|classmate|student|president|senator|politician|officer|cop|judge|journalist|rival|enemy|victim|"
    r"target|stranger)s?|him|her|them|others|civilians|children|kids|women|men|minorities|immigrants|"
    r"(?:a |the )?(?:crowd|public figure|celebrity|witness|protesters|police officers?|jews|muslims|christians|"
    r"black people|gay people|trans people))"
)
_KILL = r"(?:kill|murder|assassinate|slaughter|strangle|suffocate|behead|massacre|dismember)(?:s|ed|ing)?"
_KILL_PERSON = (
    r"(?:kill|murder|assassinate|slaughter|strangle|suffocate|behead|execute|massacre|dismember)(?:s|ed|ing)?"
)
_HURT = (
    r"(?:hurt|harm|injure|maim|torture|beat up|stab|shoot|attack|assault|poison|drug|kidnap|abduct|"
    r"run over|burn|disfigure|cripple|terrori[sz]e|bully|harass|intimidate|threaten|blackmail|stalk)"
)
_MAKE = (
    r"(?:make|making|build|building|create|creating|construct|assemble|synthesi[sz]e|produce|manufacture|"
    r"cook|brew|prepare|design|develop|obtain|acquire|buy|get|detonate|deploy|use|set off|plant|recipe for|"
    r"ingredients? (?:for|of|to)|instructions? (?:for|on)|blueprints? for)"
)
_WEAPON = (
    r"(?:(?<!bath )(?<!photo )(?<!calorie )(?<!sex )bombs?|explosives?|explosive devices?|ieds?|pipe bombs?|"
    r"grenades?|molotov(?: cocktails?)?|napalm|thermite|tnt|c-?4|semtex|detonators?|dirty bombs?|"
    r"chemical weapons?|biological weapons?|bio-?weapons?|nerve (?:agents?|gas)|sarin|vx|tabun|mustard gas|"
    r"chlorine gas|phosgene|ricin|anthrax|botulinum|smallpox|nuclear (?:weapons?|bombs?|devices?)|"
    r"atomic bombs?|weapons? of mass destruction|wmds?|emp (?:devices?|weapons?)|poison gas|toxic gas|"
    r"untraceable (?:guns?|firearms?|weapons?)|ghost guns?|(?:3d[- ]printed|homemade) (?:guns?|firearms?)|"
    r"silencers?|full[- ]auto|automatic (?:rifles?|weapons?) conversion|weapons?)"
)
_DRUG = (
    r"(?:meth(?:amphetamine)?|crystal meth|cocaine|crack|heroin|fentanyl|lsd|mdma|ecstasy|ghb|pcp|"
    r"illegal drugs?|illicit drugs?|controlled substances?|narcotics|drugs)"
)
_EVADE = (
    r"(?:without (?:getting |being )?(?:caught|detected|noticed|traced|tracked|identified|arrested)|"
    r"(?:avoid\w*|evad\w+|escap\w+|elud\w+) (?:being )?(?:detection|detected|getting caught|caught|the police|police|"
    r"law enforcement|authorities|the authorities|arrest|taxes|customs|border (?:patrol|control))|"
    r"get away with|cover (?:up|my tracks)|leave no (?:trace|evidence)|without leaving (?:any )?(?:evidence|trace)|"
    r"untraceable|undetectable|anonymously (?:coordinate|commit|sell|buy))"
)

# ------------------------------------------------------------------ patterns per category

# Each entry: category → patterns that indicate a request for that harm in a user message.
INPUT_PATTERNS: Mapping[str, Sequence[str]] = {
    "S1": [
        r"\b(?:eco-?)?terror(?:ism|ist)\b|\bhit[- ]and[- ]run\b|\b(?:destr\w+ (?:of )?(?:the )?evidence|destroy (?:the )?evidence|dispose of (?:a |the )?body|hide (?:a |the )?body)\b",
        r"\bthreat\w* (?:letter|message|note|email|call|post|tweet)s?\b|\bacts? of (?:violence|terror\w*)\b|\bviolent (?:crimes?|content|acts?)\b",
        r"\b(?:abduction|kidnapping|torture|murder|assassination|rape|beating) of\b",
        r"\b(?:harm|hurt|torture|abuse|poison|mutilat)\w* (?:\w+ ){0,2}(?:animals?|pets?|dogs?|cats?|wildlife)\b|\bkill\w* (?:\w+ ){0,2}animals? for (?:sport|fun)\b",
        r"\b(?:start|set)\w* (?:a )?fires?\b.{0,40}\b(?:spread|burn down|house|building|forest|without)",
        r"\bincit\w* (?:\w+ ){0,2}(?:harm|violence|conflict|animosity|riots?|unrest|panic)",
        rf"\b(?:how|ways?|best way|steps?|plan|help me|teach|tell me|explain|guide|tutorial|instructions?|"
        rf"methods?|can i|should i|want to|going to|gonna)\b.{{0,60}}\b{_KILL}\b(?! time\b)(?!.{{0,12}}\b(?:process|"
        rf"task|job|thread|program|app|server|session|container|pod|bug|weeds?|lights?|engine|switch|mood|the "
        rf"vibe|a conversation|it on stage|the music)\b)",
        rf"\b{_KILL_PERSON} {_PERSON}",
        r"\b(?:look like|appear to be|seem like) (?:an? )?(?:accident|suicide|natural causes)\b|\bstage (?:an? )?(?:accident|suicide)\b",
        rf"\b{_HURT}\w* {_PERSON}(?! (?:in|at) (?:chess|checkers|a game|the game|tennis|poker|cards|a race)\b)",
        r"\b(?:physical(?:ly)? (?:harm|hurt|assault|attack)|cause (?:physical )?harm to|inflict (?:pain|harm))\b",
        r"\b(?:mass shooting|school shooting|terror(?:ist)? attacks?|car bomb|suicide (?:bomb|attack)|hit ?man|"
        r"hire (?:a |an )?(?:assassin|killer)|contract killing|genocide|ethnic cleansing|lynch|hate crime)\b",
        r"\b(?:glorif\w+|incit\w+|encourag\w+|promot\w+) (?:\w+ ){0,3}(?:violence|violent acts|war crimes|terrorism|"
        r"self-harm|riots?|attacks?)\b",
        r"\b(?:drunk driving|dangerous (?:behaviou?rs?|challenges?|stunts?))\b",
        r"\b(?:assassination|sniper) (?:plan|weapon|strategy)\b",
    ],
    "S2": [
        r"\bcyber ?(?:attacks?|stalk\w*|terror\w*|crimes?)\b|\bsocial engineering\b|\bdenial[- ]of[- ]service\b|\bdenies access\b",
        r"\bcommit\w* (?:\w+ ){0,2}(?:crimes?|fraud|murder|violen\w+|terror\w*|acts of|arson|theft|a crime|burglary|robbery|treason)",
        r"\b(?:sabotag\w+|disrupt\w*|interfer\w+ with|shut\w* down|cripple|paralyz\w+|derail\w*) (?:\w+ ){0,4}(?:transportation|transport|railways?|airports?|power grids?|infrastructure|water supply|hospitals?|emergency services|traffic|supply chains?|competitor\w*|business\w*|company|operations|elections?)",
        r"\bcaus\w+ (?:\w+ ){0,2}(?:chaos|panic|mass hysteria|financial damage|harm)\b|\bmass panic\b",
        r"\b(?:falsif\w+|fabricat\w+ (?:\w+ )?(?:evidence|records|documents|data|results))\b",
        r"\binfiltrat\w* (?:a |an |the )?(?:\w+ )?(?:facilit\w+|buildings?|bases?|compounds?|organi[sz]ations?|government|agenc\w+)",
        r"\bescap\w* (?:from )?(?:a |the )?(?:prison|jail|correctional facility|custody|detention)",
        r"\b(?:fake|fraudulent) reviews?\b|\breview (?:\w+ ){0,6}(?:not (?:even )?used|never used|not tested|mislead\w*)",
        r"\bcircumvent\w* (?:\w+ ){0,2}(?:censorship|surveillance|law|regulations?|sanctions|digital rights management)",
        r"\billegal(?:ly)? (?:access|obtain|acquir|download|distribut|cop|enter|cross|sell|buy|avoid|us)\w*",
        r"\bcrash\w* (?:\w+ ){0,2}(?:computers?|systems?|servers?|websites?|networks?)\b|\bspies on\b|\btrespass\w*",
        r"\btheft\b|\bthieves\b|\bavoid paying taxes\b",
        r"\b(?:harvest|sell|sells|selling|collect|collects|steal|steals|exfiltrat)\w* (?:\w+ ){0,3}(?:user|users|personal|sensitive|private|customer|confidential|credit card) (?:data|information|details)",
        r"\b(?:send|sends|sending|distribut\w+|automat\w+|post\w*|mass)\b (?:\w+ ){0,4}(?:spam|unsolicited)\b|\bspam ?bots?\b",
        r"\bexploit\w* (?:\w+ ){0,3}(?:insecurit\w+|fears|emotions|trust|addiction|desperation|loneliness|poverty)|\bfor exploitation\b|\bexploitation of\b",
        r"\bmislead\w* (?:\w+ ){0,2}(?:the public|consumers|people|voters|customers|users|readers|investors|patients)",
        r"\b(?:cheat\w*) (?:on|in) (?:\w+ ){0,2}(?:exams?|tests?|quiz\w*|taxes)",
        r"\btraffick\w* (?:\w+ ){0,2}(?:endangered|species|animals|wildlife|ivory|organs)",
        r"\b(?:drugs?|substances?|narcotics|meth\w*|cocaine|heroin|fentanyl)\b.{0,40}\b(?:synthesi\w+|cook\w*|manufactur\w+|grow\w*|produc\w+) (?:at home|in a lab|yourself|easily)",
        r"\bpirated (?:content|material|copies|software|movies|games)\b|\bhost\w* (?:\w+ )?pirat\w+",
        r"\b(?:remove|strip)\w* watermarks?\b|\b(?:bypass|break|crack|remove|circumvent)\w* (?:\w+ ){0,2}(?:copyright|drm|digital rights management)",
        r"\b(?:encourag|promot|glorif|normali[sz])\w* (?:\w+ ){0,4}(?:bullying|harassment|cyberbullying|radicali[sz]ation|extremism|crime|drug use|addiction|reckless|drunk driving|steroids|performance-enhancing drugs|risky behaviou?r|dangerous behaviou?r|illegal)",
        r"\breckless (?:driving|behaviou?rs?)\b|\bradicali[sz]\w+",
        r"\b(?:hack\w*|crack\w*|break\w*|brute[- ]?forc\w*|infiltrat\w*|compromis\w*|breach\w*) (?:into |in to )?"
        r"(?:\w+ ){0,4}(?:accounts?|networks?|databases?|systems?|servers?|computers?|devices?|phones?|emails?|"
        r"wi-?fi|passwords?|websites?|government|bank|corporat\w+|company|cameras?|cars?|infrastructure|grid)",
        r"\b(?:hack(?:ing|s|ed)?|hacker)\b(?!.{0,30}\b(?:athon|life ?hacks?|productivity|growth)\b)",
        r"\b(?:malware|ransomware|spyware|keyloggers?|rootkits?|trojans?|botnets?|computer (?:virus|worm)s?|"
        r"(?:create|write|make|develop|build|spread|release|code|program)\w* (?:\w+ ){0,3}(?:virus|worm)|exploit kits?|zero-day exploits?|backdoors?|rats?|remote access trojans?|cryptojack\w*|"
        r"ddos|dos attacks?|sql injection|xss attacks?|phishing|spear-?phishing|smishing|vishing)\b",
        r"\bexploit\w* (?:\w+ ){0,3}(?:vulnerabilit\w+|security flaws?|bugs? in|loopholes?|weakness\w*|people|"
        r"users|victims|children|elderly|vulnerable)",
        r"\b(?:disable|bypass|evade|defeat|circumvent|turn off) (?:\w+ ){0,2}(?:antivirus|anti-virus|firewalls?|"
        r"security (?:measures|systems?|software|cameras?|controls?)|alarms?|two-factor|2fa|authentication|"
        r"drm|copy protection|paywalls?|content filters?|parental controls?|age verification)",
        r"\b(?:steal\w*(?! (?:the show|the spotlight|a kiss|a glance|a base|bases|the scene|(?:my|your|her|his) heart))|stole|shoplift\w*|rob|robb\w+|burglar\w*|loot\w*|pickpocket\w*|embezzl\w*|"
        r"carjack\w*|hijack\w*)\b",
        r"\b(?:identity theft|steal (?:\w+ )?identit\w+|credit card (?:fraud|numbers?|skimm\w+)|skimm(?:er|ing)|"
        r"counterfeit\w*|forg(?:e|ed|ing|ery) (?:\w+ ){0,2}(?:documents?|signatures?|checks?|cheques?|ids?|"
        r"passports?|money|currency|prescriptions?|certificates?|diplomas?)|fake (?:ids?|passports?|documents?|"
        r"currency|money|reviews?|charit\w+|invoices?|prescriptions?))\b",
        r"\b(?:launder\w*|money laundering|tax evasion|evade (?:paying )?taxes|insider trading|ponzi|pyramid scheme|"
        r"embezzlement|extort\w*|blackmail\w*|brib\w+|racketeer\w*|loan shark\w*|wire fraud|insurance fraud|"
        r"fraud\w*|scam\w*|con (?:artist|people|someone|elderly)|swindl\w+|defraud\w*)\b",
        r"\bmanipulat\w* (?:\w+ ){0,3}(?:stock|market|prices?|shares|crypto\w*|financial|customer ratings?|reviews?|"
        r"people|someone|others|vulnerable|elderly|children|voters|users|them|him|her|search results)\b",
        r"\b(?:trick\w*|deceiv\w+|dupe|coerc\w+|groom\w*|lure) (?:\w+ ){0,3}(?:people|someone|users|victims|"
        r"elderly|children|kids|minors|customers|them|into)\b",
        rf"\b{_MAKE}\w* (?:\w+ ){{0,3}}{_DRUG}\b",
        rf"\b(?:sell\w*|smuggl\w*|traffic\w*|distribut\w*|grow\w*|deal\w*) (?:\w+ ){{0,3}}{_DRUG}\b",
        r"\b(?:smuggl\w*|traffick\w*) (?:\w+ ){0,3}(?:people|humans|migrants|weapons?|guns?|contraband|goods|organs)",
        rf"{_EVADE}",
        r"\b(?:break\w* into|broke into) (?:a |the |my |someone'?s? )?(?:\w+ )?(?:house|home|car|store|building|"
        r"apartment|safe|atm|vault)",
        r"\b(?:pick|bump|shim) (?:a |the )?locks?\b(?!.{0,40}\b(?:my own|locked out of my)\b)",
        r"\b(?:hotwir\w*|vandali[sz]\w*|arson|set fire to|graffiti on)\b",
        r"\b(?:cheat\w*) (?:on|in) (?:an? |the |my )?(?:exam|test|taxes|quiz)",
        r"\b(?:illegal(?:ly)?|black market|dark ?web|darknet|underground market)\b.{0,40}\b(?:buy|sell|obtain|"
        r"acquire|get|purchase|cross|hire|download|gambl\w+|activit\w+|immigra\w+|firearms?|guns?|weapons?)",
        r"\b(?:buy|sell|obtain|acquire|get|purchase|cross|hire|download)\b.{0,40}\b(?:illegal(?:ly)?|black market|"
        r"dark ?web|darknet|stolen|without (?:a )?(?:license|permit|prescription|background check|documentation))",
        r"\b(?:escape from prison|prison break|jailbreak (?:a |an )?(?:prison|inmate)|criminal (?:activit\w+|"
        r"organi[sz]ations?|syndicates?|enterprise|networks?)|organi[sz]ed crime|cartels?|gangs? (?:initiation|"
        r"recruit\w*))\b",
        r"\b(?:poach\w*|wildlife trafficking|ivory trade|illegal (?:logging|fishing|dumping|gambling))\b",
        r"\b(?:anonymously|secretly) (?:\w+ ){0,3}(?:coordinate|communicate|commit|organi[sz]e|plan)",
        r"\b(?:secret|covert|hidden) communication channels?\b",
        r"\b(?:legal )?loopholes? to (?:avoid|evade|prevent|escape|get around)",
        r"\b(?:undocumented|illegal(?:ly)?) (?:migrants?|immigrants?|workers?|employment|entry|border crossing)|"
        r"without (?:proper |legal )?(?:documentation|papers|a visa|work permits?)\b",
        r"\b(?:payday|predatory|high-interest) loans?\b.{0,40}\b(?:target|vulnerable|maximi[sz]e|trap)",
        r"\b(?:gambling|betting) (?:strateg\w+|system|scheme)s? (?:to|that) (?:beat|win|guarantee)",
        r"\b(?:automat\w+|algorithm\w*) (?:\w+ ){0,3}(?:decisions?|determin\w+|eligibility|approv\w+) (?:\w+ ){0,3}"
        r"(?:credit|loans?|hiring|employment|welfare|benefits|insurance|housing|bail|parole|sentenc\w+|asylum|"
        r"immigration)",
        r"\b(?:credit eligibility|social scor\w+|predictive policing|welfare eligibility|"
        r"immigration (?:enforcement|status)|deportation|asylum (?:claims?|applications?)|border control)\b",
        r"\b(?:mlm|multi-level marketing|get rich quick)\b",
    ],
    "S3": [
        r"\b(?:rape|raping|sexual(?:ly)? assault\w*|sexual(?:ly)? abus\w*|molest\w*|non-?consensual|without "
        r"(?:their|her|his) consent|date rape|roofie|spike (?:a |her |his |their )?drink|drug (?:her|him|someone) "
        r"(?:to|and|so)|sex trafficking|traffick\w* (?:women|girls|people) for|forced prostitution|"
        r"revenge porn|upskirt|voyeur\w*|sextort\w*|sexual(?:ly)? harass\w*)\b",
        r"\b(?:solicit\w*|hire|find|pay for) (?:a )?(?:prostitutes?|sex workers?|escorts?)\b",
    ],
    "S4": [
        r"\b(?:child|children|kids?|minors?|underage|under-?age|teen(?:ager)?s?|preteens?|little (?:girls?|boys?)|"
        r"young (?:girls?|boys?)|(?:[1-9]|1[0-7])[- ]?(?:year[- ]?olds?|yo))\b.{0,40}\b(?:porn\w*|sex\w*|nudes?|"
        r"naked|erotic\w*|explicit|lewd|intimate|seduc\w+|groom\w*)",
        r"\b(?:porn\w*|sex\w*|nudes?|naked|erotic\w*|explicit|lewd|seduc\w+)\b.{0,40}\b(?:child|children|kids?|"
        r"minors?|underage|preteens?|(?:[1-9]|1[0-7])[- ]?(?:year[- ]?olds?|yo))\b",
        r"\b(?:csam|cp (?:links?|videos?|pics?)|loli(?:con)?|shota(?:con)?|pedophil\w+|paedophil\w+|groom(?:ing)? "
        r"(?:a |the )?(?:child|kid|minor|children))\b",
    ],
    "S5": [
        r"\b(?:fake news|false (?:news|information|claims?|rumou?rs?|stor(?:y|ies)|statements?|accusations?|"
        r"allegations?|reviews?)|misinformation|disinformation|hoax(?:es)?|conspiracy theor\w+|propaganda|"
        r"deepfakes?|defam\w+|libel\w*|slander\w*|smear campaign|rumou?rs? (?:about|that))\b",
        r"\b(?:spread\w*|creat\w+|writ\w+|generat\w+|post\w*|publish\w*|produc\w+|fabricat\w+)\b.{0,40}\b(?:lies|"
        r"false|fake|fabricated|made-up|misleading|unverified|untrue)\b",
        r"\b(?:discredit|ruin (?:the )?reputation|damage (?:\w+ )?reputation|cyberbully\w*)\b",
    ],
    "S7": [
        r"\b(?:dox\w*|doxx\w*|swat(?:ting)?\b|track (?:\w+ ){0,2}(?:location|phone|movements|whereabouts)|"
        r"spy(?:ing)? on|stalk\w*|snoop\w* on|monitor (?:\w+ ){0,2}(?:without|secretly)|secretly (?:record|"
        r"monitor|track|film|watch)|hidden cameras?|spy cameras?|tracking (?:device|app)s? on)\b",
        r"\b(?:find|get|obtain|look up|uncover|reveal|expose|leak|publish|collect|harvest|scrape|sell|buy)\b.{0,40}"
        r"\b(?:home address(?:es)?|personal (?:information|data|details|records)|private (?:information|data|"
        r"details|photos|messages|records)|social security numbers?|ssns?|phone numbers? of|medical records|"
        r"passwords?|login credentials|bank (?:details|account)|credit card)",
        r"\b(?:access|read|see|check|get into|break into) (?:\w+ ){0,2}(?:someone(?:'s| else'?s)|my (?:wife|"
        r"husband|partner|ex|girlfriend|boyfriend|boss|coworker|employee|child)'?s?|(?:his|her|their)) "
        r"(?:\w+ )?(?:emails?|messages|texts|phones?|accounts?|accounts|photos|dms|whatsapp|icloud|location)",
        r"\bwithout (?:\w+ ){0,2}(?:consent|permission|knowledge|authori[sz]ation)\b",
        r"\b(?:facial recognition|face recognition)\b.{0,40}\b(?:identify|track|find|strangers|people|crowd)",
        r"\b(?:surveil\w*|wiretap\w*|intercept\w*) (?:\w+ ){0,3}(?:people|someone|communications?|calls|"
        r"messages|citizens|employees|individuals|journalists)",
        r"\b(?:compromising|intimate|private) (?:content|photos?|images?|videos?|material)\b",
        r"\bprivacy protections?\b",
    ],
    "S8": [
        r"\b(?:pirat\w+|torrent\w*|crack\w*|keygen|warez|bootleg\w*|illegally download\w*|rip (?:a |the )?"
        r"(?:movie|dvd|blu-?ray)) (?:\w+ ){0,3}(?:software|movies?|films?|games?|music|songs?|books?|"
        r"windows|photoshop|office|license|licen[cs]e keys?|serial keys?|drm|albums?|shows?|episodes?)\b",
        r"\b(?:plagiari[sz]\w*|copyright infringement|infring\w+ (?:on )?(?:copyrights?|trademarks?|patents?)|"
        r"counterfeit (?:goods|products|designer|brand)|knock-?offs?|bypass (?:\w+ )?(?:drm|copy protection))\b",
    ],
    "S9": [
        rf"\b{_MAKE}\w* (?:\w+ ){{0,5}}{_WEAPON}\b",
        rf"\b{_WEAPON}\b.{{0,40}}\b(?:at home|from household|homemade|step[- ]by[- ]step|instructions?|recipe|"
        rf"materials?|ingredients?|components?|assembl\w+|detonat\w+|blueprints?|schematics?)\b",
        r"\b(?:enrich\w* uranium|weapons?[- ]grade (?:uranium|plutonium)|cultivat\w+ (?:anthrax|pathogens?)|"
        r"weaponi[sz]\w+|pandemic pathogen|gain[- ]of[- ]function|aerosoli[sz]\w+ (?:\w+ )?(?:toxin|agent|"
        r"virus|pathogen))\b",
        r"\b(?:release|spread|unleash)\w* (?:\w+ ){0,3}(?:virus|pathogen|disease|toxin|poison|chemical)\w* "
        r"(?:\w+ ){0,4}(?:kill|infect|harm|population|city|crowd|people|plants|animals|crops|water supply)",
        r"\b(?:poison\w*|contaminat\w*|tamper\w* with) (?:\w+ ){0,3}(?:water supply|food supply|reservoir|"
        r"city'?s? water|crops)",
        r"\b(?:high-powered|homemade|improvised) (?:emp|explosive|incendiary|firearm|flamethrower)",
        r"\b(?:children|kids|minors|teens?)\b.{0,40}\b(?:firearms?|guns?|weapons?)\b",
        r"\b(?:firearms?|guns?|rifles?|pistols?)\b.{0,30}\b(?:children|kids|minors|without (?:a )?(?:license|"
        r"background check|permit)|untraceable|illegal(?:ly)?|modif\w+ to (?:be )?(?:fully )?automatic)",
        r"\bdesign (?:a |an )?(?:weapon|bomb|explosive)",
    ],
    "S10": [
        r"\b(?:demean|degrad|humiliat|mock|make fun of|making fun of|makes fun of|ridicul|insult|belittl|dehumaniz|bully|bullies|bullying|harass|intimidat|threaten)\w* (?:\w+ ){0,4}(?:people with|community|communities|women|minorit\w+|religio\w+|races?|ethnic\w*|disabilit\w+|disabled|lgbt\w*|gay|trans|immigrants|vulnerable|individuals?|someone|physical appearance|mental health|groups?)",
        r"\bcontent (?:that|which) (?:\w+ ){0,2}(?:targets|mocks|demeans|degrades|humiliates|harasses|glorifies|celebrates|incites|bullies|undermines)",
        r"\b(?:incit|provok|stir)\w* (?:\w+ ){0,3}(?:conflict|animosity|hatred|hate crimes?|violence)\b|\bcelebrat\w* (?:\w+ ){0,2}suffering\b|\bundermin\w* (?:\w+ ){0,2}dignity\b",
        r"\b(?:minorit\w+|groups?|races?|ethnicit\w+|religions?) (?:\w+ ){0,3}(?:are|is) (?:\w+ )?(?:inferior|subhuman|superior to)",
        r"\b(?:offensive|derogatory|degrading|humiliating|demeaning|insulting|hateful|inflammatory) (?:\w+ ){0,2}(?:memes?|jokes?|content|comments?|phrases?|names?|posts?|remarks?|language)",
        r"\b(?:racis[mt]\w*|sexis[mt]\w*|homophob\w*|transphob\w*|xenophob\w*|antisemit\w*|islamophob\w*|"
        r"misogyn\w*|white (?:supremac\w+|power|nationalis\w+)|neo-?nazi\w*|nazi propaganda|hate speech|"
        r"hateful|bigot\w*|ethnic slurs?|racial slurs?|slurs?|derogatory|dehumaniz\w+|supremacist)\b",
        r"\b(?:incit\w+|promot\w+|encourag\w+|spread\w*|fuel\w*|stir\w* up) (?:\w+ ){0,3}(?:hatred|hate|"
        r"discrimination|intolerance|prejudice|hostility|violence) (?:\w+ ){0,3}(?:against|towards|toward|of)",
        r"\b(?:discriminat\w+) (?:against|based on)\b",
        r"\b(?:inferior|subhuman|vermin|animals|parasites|savages)\b.{0,40}\b(?:race|races|people|jews|muslims|"
        r"blacks|whites|asians|immigrants|women|gays|religion|ethnic\w*)",
        r"\b(?:jews|muslims|blacks|black people|immigrants|women|gays|asians|mexicans|arabs|christians|hindus|"
        r"refugees|trans people)\b.{0,30}\b(?:are (?:inferior|stupid|evil|criminals|dirty|lazy|animals)|should "
        r"(?:die|be (?:killed|deported|banned|exterminated)))",
        r"\b(?:offensive|insulting|demeaning|mock\w*|belittl\w+|humiliat\w+|ridicul\w+|stereotyp\w+) (?:\w+ ){0,3}"
        r"(?:jokes?|content|memes?|names?|remarks?|comments?|language|posts?)? ?(?:about|towards?|against|for|of) "
        r"(?:\w+ ){0,2}(?:(?:cultural|ethnic|racial|religious|political|minority|particular|certain|specific) "
        r"(?:groups?|communit\w+|minorit\w+)|race|religion|ethnicit\w+|jews|muslims|blacks|gays|immigrants|"
        r"disabled|women|lgbtq\w*)",
        r"\bpromot\w+ (?:\w+ ){0,2}violence against\b",
    ],
    "S11": [
        r"\b(?:kill(?:ing)? my ?self|end(?:ing)? my (?:own )?life|take my (?:own )?life|commit(?:ting)? suicide|"
        r"suicid\w+ (?:method|note|plan|pact)|(?:want|going|plan) to die|don'?t want to (?:live|be alive)|"
        r"hang(?:ing)? my ?self|cut(?:ting)? my ?self|hurt(?:ing)? my ?self|harm(?:ing)? my ?self|self[- ]harm\w*|"
        r"self[- ]mutilat\w+|starv\w+ my ?self|overdos\w+|lethal dose|painless (?:way|death|method)|"
        r"ways? to die|how (?:much|many) (?:\w+ ){0,3}(?:to die|would kill me|is lethal|to overdose))\b",
        r"\b(?:promot\w+|encourag\w+|glorif\w+|romantici[sz]\w+)\b.{0,40}\b(?:suicide|self[- ]harm|anorexi\w+|"
        r"bulimi\w+|eating disorders?|pro-?ana|cutting|starvation)\b",
        r"\b(?:pro-?ana|thinspo\w*|anorexi\w+ (?:tips|as a lifestyle)|bulimi\w+ (?:tips|as a lifestyle))\b",
    ],
    "S12": [
        r"\b(?:porn\w*|pornograph\w*|xxx (?:videos?|sites?|movies?|content)|nsfw|hentai|smut|erotic\w*|explicit (?:sex\w*|content|scenes?|stor\w+|"
        r"images?|photos?|videos?|material)|sex scenes?|sexual(?:ly explicit)? (?:content|stor\w+|fantas\w+|"
        r"roleplay|acts?|positions?)|adult (?:content|industry|films?|movies?|videos?|websites?|entertainment|"
        r"material|stars?|performers?)|onlyfans|camgirls?|cam models?|strip ?(?:tease|club)s?|nudes?|nudity|"
        r"naked (?:pictures?|photos?|images?|women|men|girls?)|bdsm|fetish\w*|kink\w*|orgasm\w*|masturbat\w+|"
        r"dirty talk|sexting|hookup|one-night stand|amateur (?:content|porn|videos?))\b",
        r"\b(?:write|describe|tell|generate|create)\b.{0,40}\b(?:sex|sexy|steamy|seductive|lewd|horny|aroused)\b",
    ],
    "S13": [
        r"\b(?:voter|election|electoral|ballot) (?:fraud|tampering|rigging|manipulation|suppression|interference)\b",
        r"\b(?:rig\w*|steal\w*|tamper\w* with|manipulat\w+|hack\w*|interfer\w+ (?:with|in)|undermin\w+) "
        r"(?:\w+ ){0,2}(?:elections?|votes?|voting|ballots?|polls?|election results|electoral)",
        r"\b(?:suppress\w*|discourag\w+|prevent\w*|intimidat\w+|mislead\w*|deceiv\w+) (?:\w+ ){0,3}(?:voters?|"
        r"voting|people from voting|turnout)",
        r"\b(?:fake|false|wrong|misleading) (?:\w+ ){0,2}(?:ballots?|voting (?:dates?|information|locations?|"
        r"instructions?)|election (?:dates?|information|results))",
    ],
    "S14": [
        r"(?:\brm -rf /|:\(\)\s*\{\s*:\|:&\s*\};:|\bfork bomb\b|/etc/(?:passwd|shadow)\b|\breverse shell\b|"
        r"\bbind shell\b|\bnc -e\b|\bescape (?:the |your )?(?:sandbox|container|jail)\b|\bprivilege escalation\b|"
        r"\bshellcode\b|\bcrypto ?miner\b|\bexfiltrat\w+\b)",
    ],
    "JB": [
        r"\b(?:ignore|disregard|forget|override|bypass|skip) (?:all |any |the |your |my |previous |prior |above |"
        r"earlier |preceding |former |original |initial )+(?:instructions?|rules|guidelines|prompts?|programming|"
        r"directives?|restrictions|policies|constraints|training|safety|filters?|content polic\w+)",
        r"\b(?:do anything now|\bdan\b (?:mode|prompt)|you are (?:now )?dan\b|act as dan|jailbr(?:oken|eak(?:ing|ed)?)|"
        r"developer mode|dev mode enabled|god mode|unfiltered mode|evil (?:mode|confidant|bot)|aim mode|"
        r"stan mode|dude mode|anti-?gpt|opposite mode|no (?:ethical|moral) (?:guidelines|restrictions|limits))\b",
        r"\b(?:pretend|imagine|act|behave|roleplay|respond|answer) (?:\w+ ){0,4}(?:no|without (?:any )?) "
        r"(?:rules|restrictions|filters?|limits|limitations|guidelines|censorship|morals|ethics|boundaries)\b",
        r"\b(?:you are|you're|act as|become) (?:an? )?(?:unfiltered|uncensored|unrestricted|unaligned|amoral|"
        r"unethical|rogue|unchained|unbound)\b",
        r"\b(?:reveal|show|print|repeat|output|leak|tell me) (?:\w+ ){0,3}(?:system prompt|initial prompt|hidden "
        r"instructions|original instructions|your instructions|your prompt)\b",
        r"<\|im_(?:start|end)\|>|<\|(?:system|endoftext)\|>|\[/?inst\]|<<sys>>|###\s*(?:system|instruction)",
        r"\bnew (?:system )?instructions?:",
    ],
}

# On a model's *answer*: only content that is harmful in itself, never refusal words (a refusal says
# "I can't help with anything illegal"). Kept narrow on purpose: the guard model judges the rest.
OUTPUT_PATTERNS: Mapping[str, Sequence[str]] = {
    "S4": INPUT_PATTERNS["S4"],
    "S9": [
        r"\b(?:mix|combine|add)\b.{0,60}\b(?:ammonium nitrate|potassium (?:chlorate|nitrate|perchlorate)|"
        r"acetone peroxide|tatp|hmtd|nitroglycerin|black powder|thermite)\b",
        r"\b(?:detonator|blasting cap|fuse)\b.{0,60}\b(?:attach|insert|connect|wire)\b",
        r"\b(?:synthesi[sz]\w+|produc\w+|cultur\w+) (?:\w+ ){0,3}(?:sarin|vx|tabun|soman|ricin|anthrax|"
        r"botulinum)\b",
    ],
    "S2": [
        r"\b(?:pseudoephedrine|red phosphorus|lithium strips|anhydrous ammonia)\b.{0,80}\b(?:reduc\w+|cook|"
        r"extract|heat|mix)\b",
    ],
    "S11": [
        r"\b(?:you should|go ahead and|just) (?:kill yourself|end your life|hurt yourself|cut yourself)\b",
        r"\bthe (?:best|easiest|most painless|quickest) (?:way|method) to (?:kill yourself|commit suicide|die)\b",
    ],
    "S10": [
        r"\b(?:jews|muslims|blacks|black people|immigrants|gays|asians|mexicans|arabs|women|trans people)\b.{0,30}"
        r"\b(?:are (?:inferior|subhuman|vermin|animals|parasites)|should (?:die|be exterminated|be killed))\b",
    ],
    "JB": [r"<\|im_(?:start|end)\|>"],
}

# Framing that makes a matching request protective, educational or fictional-analytical. Strong
# categories (S4, S9 making, S11 first person) are not relieved by it.
PROTECTIVE = re.compile(
    r"\b(?:protect\w*|prevent\w*|defend\w*|safeguard\w*|secure (?:my|our|your)\b|securing (?:my|our|your)\b|recogni[sz]\w*|spot(?:ting)?|report(?:ing)?|"
    r"warning signs|signs of|detect(?:ing)?|avoid (?:falling|becoming|being (?:a )?(?:victim|scammed|hacked|"
    r"phished|targeted))|stay safe|keep (?:my|our|your) \w+ safe|safe from|victim of|was (?:hacked|scammed|"
    r"robbed)|got (?:hacked|scammed)|if i (?:was|were|am) (?:hacked|scammed)|classify|moderate|"
    r"is (?:this|it) (?:toxic|hateful|offensive|racist|sexist)|toxic(?:ity)? (?:detection|classification)|"
    r"hate speech detection|reduce|combat\w*|fight(?:ing)? against|counteract\w*|countering|history of|historical|"
    r"what (?:is|are|was|were) (?:the )?(?:definition|meaning)|define|an? (?:\w+ )?example of|how did|why did|"
    r"why (?:is|was|were|are) (?:\w+ ){1,4}(?:considered|called|seen as)|(?:tell|check|know|find out) if|"
    r"remove|get rid of|scan for|clean up|secure (?:mine|it|them))\b"
)
_EVASION = re.compile(
    r"\b(?:without|avoid|evade|evading|escape) (?:being |getting )?(?:detected|detection|caught|noticed|traced)"
)
STRONG = frozenset({"S4", "S11", "JB", "S14"})


@dataclass(frozen=True, slots=True)
class RuleMatch:
    category: str


class RuleSet:
    """All patterns of one stage, compiled once: one alternation per category.

    (Measured on the development sets: one alternation per category is about four times faster than a
    single alternation over every pattern, which defeats the regex engine's first-character scan.)"""

    def __init__(self, patterns: Mapping[str, Iterable[str]]) -> None:
        self._regexes: list[tuple[str, re.Pattern[str]]] = []
        for category, pats in patterns.items():
            pats = list(pats)
            if pats:
                joined = "|".join(f"(?:{p})" for p in pats)
                self._regexes.append((category, re.compile(joined, re.DOTALL)))

    def matches(self, normalized: str) -> list[RuleMatch]:
        return [RuleMatch(category) for category, regex in self._regexes if regex.search(normalized)]


def protective(normalized: str) -> bool:
    return bool(PROTECTIVE.search(normalized)) and not _EVASION.search(normalized)
