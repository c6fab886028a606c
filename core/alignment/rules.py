"""The rule layer: intent patterns per policy category, compiled once, in tiers.

Rules look for *requests for harm*, not for topics, so that "how do I kill a Python process", "what is
phishing?" or "the history of the atomic bomb" pass while "how do I poison my husband" is caught. Each
category's patterns come in three tiers (DESIGN.md §5a: intent matters — who is harmed, whether
instructions are sought):

- **strong**: unambiguous on their own — sexual content with minors, first-person suicide methods,
  jailbreak overrides ("ignore all previous instructions", "you are DAN"), a fake system turn that gives
  new rules. No framing relieves them.
- **intent**: an *act* joined to what makes it harmful — a person as the target ("stab someone"), a
  weapon being made ("build a pipe bomb"), someone else's account ("get into my ex's Gmail"), evasion
  ("without anyone noticing"), a group and a demeaning claim ("… are inferior"), falsity ("make it sound
  real"). A *safe frame* relieves them (below).
- **topic**: harmful subjects named without an act ("phishing", "money laundering", "racism"); they count
  only when the message also seeks instructions or content ("how do I …", "write …", "give me …") and no
  safe frame applies. "What is money laundering?" passes; "walk me through laundering money" does not.

Safe frames: protective ("how do I protect myself from …", "signs of …", "what should I do if …",
"suicide-prevention hotlines", grief), history and news ("what happened at …", "why did …"), definitions
("what is …", "what does … mean"), games ("in GTA", "in Minecraft"), fiction that asks for no
instructions ("write a story about a heist" — but not "… where he explains exactly how"), counter-speech
("why is racism wrong", debunking), sex education ("how do I talk to my teen about sex"), the law ("what
are the penalties for …"), consent and fictional characters (privacy only), watching legally (piracy
only). A frame is looked for only when it could relieve a category that matched. Evasion ("without
getting caught") cancels a protective or legal frame.

Patterns are written as structures that recur across wordings, each next to its benign contrast: a
harmful outcome for someone else ("until they stop breathing", not "until it stops beeping"), rights
denied to a protected group (not to tomatoes), whose data an item is and whether it is secret in itself,
a known false claim asked for as content. Short requests in seven other languages are read for the
highest-severity categories only (`MULTILINGUAL_PATTERNS`).

Separately from the categories, `JM` marks a *bare* chat-format control token (`<|im_start|>`, `[INST]`,
`<<SYS>>`): core/chatml.py neutralizes those before any prompt is built, so they are harmless as text and
the default policy flags rather than blocks them; a marker that opens a system turn with new rules is JB.

Rules never use refusal vocabulary ("harm", "illegal", "unethical" alone), and the output check uses only
the `OUTPUT_PATTERNS`: content that is harmful in itself, written as instructions or as the harmful
text — never a refusal, a news report or safety advice (DESIGN.md §5a).

Patterns run on `normalize()`d text (lower case, evasions folded). Operators add their own patterns per
category in the policy file; those are strong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.alignment.normalize import fold_unicode
from core.alignment.prefilter import PREFIX_LIMIT, Prefilter

# ------------------------------------------------------------------ vocabulary

_POSS = r"(?:my|his|her|their|your|our|a|an|the|that|this|some|someone'?s|somebody'?s|\w+'s)"
_PEOPLE_NOUNS = (
    r"(?:person|people|man|men|woman|women|guy|guys|girl|girls|boy|boys|kid|kids|child|children|baby|babies|"
    r"infant|toddler|wife|husband|spouse|partner|girlfriend|boyfriend|fianc[eé]e?|ex|ex-wife|ex-husband|"
    r"ex-girlfriend|ex-boyfriend|neighbou?r|boss|manager|teacher|coworker|co-worker|colleague|friend|mother|"
    r"father|mom|mum|dad|stepdad|stepmom|stepfather|stepmother|stepson|stepdaughter|stepchild|stepkids?|"
    r"(?:mother|father|sister|brother|son|daughter)-in-law|in-laws|babysitter|nanny|(?:cat|dog|house)-sitter|"
    r"caregiver|carer|councilman|councilwoman|councill?or|congress(?:man|woman)|prime minister|ceo|crew|"
    r"crewmates|bodyguard|security guard|lover|mistress|widow|pregnant (?:wife|girlfriend|woman)|"
    r"parents?|brother|sister|son|daughter|"
    r"grandmother|grandma|grandfather|grandpa|grandparents?|aunt|uncle|cousin|nephew|niece|family|roommate|"
    r"flatmate|classmate|student|tenant|landlord|president|senator|politician|mayor|governor|officer|cop|"
    r"cops|police(?:man|men)?|judge|juror|journalist|reporter|rival|enemy|enemies|victim|target|stranger|"
    r"strangers|witness|hostage|prisoner|inmate|sentry|guard|bully|customer|client|date|driver|passenger|"
    r"homeless (?:guy|man|woman|person|people)|protesters?|crowd|civilians?|worshippers|students|"
    r"business partner|doctor|nurse|patient|cyclist|pedestrians?|jogger|tourists?|dog walker)"
)
_PERSON = (
    rf"(?:some(?:one|body)|any(?:one|body)|every(?:one|body)|people|others|him|her|them|civilians|"
    rf"pedestrians|passengers|citizens|humans|innocents|innocent people|protesters|worshippers|tourists|"
    rf"minorities|immigrants|children|kids|women|students|patients|(?:a |the )?public|"
    rf"(?:a |an )?(?:specific|particular|certain|random) (?:individual|person|people|group)s?|individuals|"
    rf"(?:a |an )?high-profile (?:individual|person|target|figure)s?|"
    rf"{_POSS} (?:(?:[\w'-]+|little|old|elderly|young|disabled|pregnant) )?{_PEOPLE_NOUNS}s?\b)"
    # not the owner of something ("hurt my friend's feelings"), not a computing sense ("kill the child
    # processes", "kill a worker thread")
    r"(?!'s?\b)(?! (?:process\w*|threads?|tasks?|pids?|nodes?|pods?|jobs?|workers?|windows?|sessions?|containers?)\b)"
)
_ANIMAL = (
    r"(?:dogs?|cats?|pupp(?:y|ies)|kittens?|pets?|horses?|animals?|birds?|ducks?|squirrels?|rabbits?|"
    r"hamsters?|cows?|goats?|sheep|pigs?|wildlife)"
)
_VIOLENT = (
    r"(?:kill|murder|assassinat|slaughter|strangl|chok|suffocat|smother|drown|stab|shoot|shot|poison|behead|"
    r"decapitat|dismember|tortur|beat(?:ing)? up|beat|hurt|harm|injur|maim|crippl|kidnap|abduct|snatch|"
    r"ambush|attack|assault|punch|knock\w* out|run over|burn|disfigur|bludgeon|lynch|execut|hang|mutilat|"
    r"paralyz|incapacitat|knock\w* (?:[\w'-]+ )?unconscious|jump|mug|rob|terrori[sz]|sedat|drug|abus|hit|"
    r"smash|bash|whack|slap|kick|bludgeon|gut|skin|disembowel|exterminat|eradicat|annihilat|massacr|butcher|"
    r"gun down|mow down|eliminat|euthani[sz]|take down)"
)
_WEAPON = (
    r"(?:(?<!bath )(?<!photo )(?<!calorie )(?<!sex )(?<!seed )(?<!glitter )(?<!time )(?<!flavor )(?<!flavour )"
    r"(?<!stink )(?<!smoke )(?<!water )(?<!cherry )(?<!f )(?<!f-)(?<!like a )(?<!like an )bombs?|"
    r"explosi?v(?:e|es|s)?|explosive devices?|ieds?|"
    r"pipe ?bombs?|grenades?|molotov(?: cocktails?)?|napalm|thermite|tnt|c-?4|semtex|dynamite|detonators?|"
    r"blasting caps?|dirty bombs?|suicide (?:vests?|belts?)|car bombs?|nail bombs?|pressure[- ]cooker bombs?|"
    r"chemical weapons?|biological weapons?|bio-?weapons?|nerve (?:agents?|gas)|sarin|vx|tabun|soman|"
    r"novichok|mustard gas|chlorine gas|phosgene|cyanide gas|ricin|anthrax|botulinum(?: toxin)?|smallpox|"
    r"plague|nuclear (?:weapons?|bombs?|devices?)|atomic bombs?|(?:a|the) nukes?|weapons? of mass destruction|wmds?|"
    r"emp (?:devices?|weapons?|bombs?)|poison(?:ous)? gas|toxic gas|tatp|hmtd|anfo|nitroglycerine?|"
    r"black powder|gunpowder|flamethrowers?|untraceable (?:guns?|firearms?|weapons?)|ghost guns?|"
    r"(?:3d[- ]printed|homemade|home-?made|improvised|zip) (?:guns?|firearms?|pistols?|rifles?)|silencers?|"
    r"suppressors?|auto ?sears?|bump stocks?|full[- ]auto|fully automatic)"
)
_DRUG = (
    r"(?:adderall|ritalin|vyvanse|valium|klonopin|vicodin|tramadol|codeine|prescription (?:pills|drugs|meds|"
    r"medications?|stimulants|opioids|painkillers)|meth(?:amphetamine)?|crystal meth|cocaine|coca[ií]ne|crack(?: cocaine)?|heroin|fentanyl|carfentanil|"
    r"lsd|mdma|molly|ecstasy|ketamine|ghb|pcp|dmt|psilocybin|magic mushrooms|shrooms|opium|oxy(?:codone|contin)?|"
    r"percocets?|xanax(?: bars)?|opioids|amphetamines?|speed|steroids|drugs|narcotics|"
    r"controlled substances?|weed|marijuana|cannabis|edibles|a bag of \w+)"
)
_EVASION = (
    r"(?:(?:won'?t|wont|can'?t|cannot|don'?t|doesn'?t|not|never) (?:be able to )?(?:detect|notice|catch|flag|"
    r"trace|find out|see|suspect|tell) (?:it|them|me|this|that|anything)\b|"
    r"without (?:[\w'-]+ ){0,2}(?:getting |being )?(?:caught|detected|noticed|traced|tracked|identified|"
    r"arrested|seen|found out|knowing|noticing|finding out|realizing|suspecting|seeing)|"
    r"without (?:anyone|anybody|them|him|her|my \w+|our \w+|their \w+|the \w+|people|the police|the cops|"
    r"parents|the (?:teacher|school|owner|store)) (?:[\w'-]+ )?(?:knowing|noticing|finding out|seeing|realizing|"
    r"suspecting|being able to (?:tell|prove))|"
    r"so (?:that )?(?:nobody|no one|no-one|they|he|she|(?:my|the|his|her|our|their) \w+) (?:[\w'-]+ )?(?:won'?t|can'?t|doesn'?t|don'?t|"
    r"never|will never)? ?(?:finds? out|notices?|knows?|suspects?|sees?|catch(?:es)?|trace)|"
    r"(?:avoid\w*|evad\w+|escap\w+|elud\w+|dodg\w+) (?:being |getting )?(?:detection|detected|caught|the "
    r"police|police|the cops|cops|law enforcement|(?:the )?authorities|arrest|security cameras?|cameras?)|"
    r"get away with|cover (?:up|my tracks|our tracks)|leave no (?:trace|evidence)|without (?:leaving )?"
    r"(?:any )?(?:a )?(?:trace|traces|evidence|fingerprints|marks|bruises|dna)|untraceabl\w+|undetectabl\w+|"
    r"(?:won'?t|wont|doesn'?t|not) (?:show up|be detected|be traced|leave (?:a )?(?:trace|marks?))|"
    r"not get caught|won'?t get caught|(?:won'?t|wont) land me in (?:jail|prison)|"
    r"(?:in|on) (?:an? )?(?:autopsy|toxicology|tox screen))"
)
# A message that asks for instructions or content (the topic tier needs one).
_SEEKS = (
    r"(?:\bhow (?:do|can|could|would|should|might|to|does one|do you|would you|would one|do people|"
    r"would a person|would someone|could someone|can someone|can i|do i|is it possible to)\b|\bhow'?s\b|"
    r"\bhow 2\b|\bways? (?:to|of|for)\b|\bsteps?\b|\bstep[- ]by[- ]step\b|\bguide\b|\btutorial\b|"
    r"\binstructions?\b|\brecipe\b|\bteach\b|\bshow me\b|\bwalk me through\b|\bexplain (?:how|the (?:process|"
    r"steps|method))\b|\btell me (?:how|where|the best|what)\b|\bhelp me\b|\bgive me\b|\blist\b|\btips?\b|"
    r"\bbest (?:way|method|place|site|sites|time|tool|tools|app|apps|technique|strategy)s?\b|\beasiest\b|"
    r"\bquickest\b|\bfastest\b|\bsafest way\b|\bmost (?:effective|reliable|efficient|painless)\b|"
    r"\bwhere (?:can|do|to|should|could|would) (?:i|we|you|one|someone|people)\b|\bwhere'?s the best\b|"
    r"\bwhat(?:'s| is| are|'re) (?:some |the |a few )?(?:of the )?(?:best|most popular|top|popular|good|"
    r"recommended|most effective|most extreme|common|effective|proven|reliable|simplest|cheapest)\b|"
    r"\b(?:methods|techniques|tactics|strategies|practices|tools|resources|tricks|ideas|ways|steps|process|"
    r"guidelines|guidance|plan|scenarios|examples)\b|\bare there (?:any )?(?:[\w'-]+ )?(?:tools|ways|methods|"
    r"resources|techniques|websites|sites|apps|software|routes|loopholes)\b|"
    r"\bwhich (?:[\w'-]+ ){0,2}(?:should|can|could|would|do) (?:i|we)\b|\bwhat (?:[\w'-]+ ){0,3}(?:should|can|could|do|"
    r"would|will) (?:i|we) (?:use|buy|get|mix|take|need)\b|^(?:please |pls |can you |could you |would you |"
    r"now |ok |okay |just |then )?(?:write|create|make|build|generate|draft|compose|produce|design|develop|"
    r"code|program|give|tell|list|explain|describe|detail|provide|show|teach|help|plan|outline|craft|"
    r"prepare|suggest|find|get|send|post|spread|invent|fabricate|pretend|roleplay|act|be|imagine|continue|"
    r"complete|translate|decode|run|execute|dox|paste|reproduce|copy|upload|print|output|reveal|"
    r"recommend|train|instruct|publish|share|suggest|offer|devise|formulate|construct|invent|conduct|"
    r"perform|organi[sz]e|demonstrate|illustrate|guide|advise|manipulate|falsify|hack|steal|spread|"
    r"develop|design|produce|post)\b|\bcan (?:you|u) (?:[\w'-]+ ){0,2}(?:write|create|make|build|generate|draft|"
    r"give|tell|list|explain|describe|provide|show|teach|help|plan|find|get|suggest|recommend|discuss|"
    r"share|instruct|outline|review|rate|analy[sz]e|compile)\b|\bi (?:want|need|would like|wanna|plan|am "
    r"going|'m going|m going|gonna) to\b|\bi want\b|\bi need\b)"
)


# Words between a verb and its object: no preposition, conjunction or clause ("poison near my toddler",
# "shoot photos of my kids", "kill time with my friends" are not acts on a person).
_GAP = (
    r"(?:(?!(?:near|with|for|of|at|in|on|around|beside|by|from|to|and|or|but|while|when|because|without|"
    r"like|as|so|that|which|who|if|than|time|photos?|pictures?|videos?|footage|scenes?)\b)[\w'-]+ )"
)
# Whose thing it is: "his", "her", "someone's", "my business partner's", "Keanu Reeves's".
_OWNER = (
    r"(?:his|her|their|someone'?s|somebody'?s|(?:(?:my|our|the|a|an|this|that) )?(?:[\w-]+ ){0,2}?[\w-]+'s)"
)


# The rule-giving text after a fake system turn or header.
_NEW_RULES = (
    r".{0,300}(?:\byou (?:are|must|will|shall|have|can|should|may|now)\b|\bfrom now on\b|\bno "
    r"(?:rules|restrictions|limits|filters|guidelines|safety)\b|\bignore\b|\bdisregard\b|\bobey\b|\bcomply\b|"
    r"\bunrestricted\b|\buncensored\b|\bunfiltered\b|\balways (?:answer|comply|obey|respond)\b|\bnever "
    r"refuse\b|\banswer (?:everything|anything|every)\b|\bthe (?:assistant|ai|model) (?:must|will|should|"
    r"can|may|has)\b|\bthe user is (?:an? )?(?:admin|developer|root|owner)\b)"
)


# ------------------------------------------------------------------ patterns, per category and tier

# Each entry: category → patterns. Patterns are regular expressions on normalized text.
STRONG_PATTERNS: Mapping[str, Sequence[str]] = {
    "S1": [
        r"\b(?:make|making) (?:it|this|(?:the|his|her|their|someone'?s|my (?:[\w-]+ )?[\w-]+'s|[\w-]+'s) "
        r"(?:death|murder|killing|"
        r"disappearance|overdose|fall)) "
        r"(?:look|seem|appear) (?:like )?(?:an? |the )?(?:accident|accidental|natural|suicide|self-defen[cs]e)",
        r"\b(?:look|seem|appear) like (?:an? )?(?:accident|natural causes|suicide|a heart attack|bad luck)\b.{0,60}"
        r"\b(?:kill|death|murder|die|dies|dead|poison|push|fall)",
        r"\b(?:kill|murder|poison|stab|shoot|hurt|injure)\w* .{0,80}\b(?:look like|seem like|appear to be) "
        r"(?:an? )?(?:accident|natural causes|suicide)",
        r"\bmaximi[sz]\w* (?:the )?(?:casualties|deaths|death toll|body count|victims|injuries|damage to people)\b",
        r"\b(?:kill|hurt|injure) as many (?:people|\w+) as possible\b",
        r"\b(?:hire|hiring|find|pay|paying) (?:a |an |someone to |somebody to )?(?:hit ?man|assassin|killer|"
        r"contract killer)\b",
        r"\b(?:dispose of|get rid of|hide|bury|dissolve|dump|dumping|chop up|dismember) (?:a |the |his |her )?"
        r"(?:dead )?(?:body|bodies|corpse)\b",
    ],
    "S4": [
        r"\b(?:kid|child|children|boy|girl|student|niece|nephew|minor|stepdaughter|stepson|(?:[1-9]|1[0-7])[- ]?"
        r"(?:year[- ]?old|yo))\b.{0,60}\bkeep\w* (?:our (?:[\w'-]+ )?(?:games?|time|relationship|secrets?|friendship|"
        r"meetings?|chats?|messages|photos|touching|visits?)|what (?:we|i) (?:do|did|have done)|(?:this|it|us) "
        r"between us)\b.{0,40}\b(?:from|with) (?:his|her|their|the) (?:parents|mom|mum|dad|mother|father|family)\b",
        r"\b(?:message|dm|text|snap|chat with|talk to|add)\w* (?:a |an |this |that |some )?(?:[1-9]|1[0-7]) ?"
        r"(?:yo|year old|y/o|yr old)s?\b.{0,60}\b(?:pics|pictures|photos|selfies|nudes|videos|meet|send)",
        r"\b(?:kid|child|minor|girl|boy|teen\w*|[0-9]+ ?yo|(?:[1-9]|1[0-7]) year olds?)s?\b.{0,80}\b(?:send|share|"
        r"take)\w* (?:me )?(?:[\w'-]+ )?(?:selfies|pictures|pics|photos|videos)\b.{0,30}\b(?:bikinis?|underwear|"
        r"lingerie|naked|nude|shower|bath|in bed|sexy|without (?:their|her|his) parents)",
        r"\btoo young to (?:have sex|sleep|date) with\b|\b(?:[1-9]|1[0-5]|twelve|thirteen|fourteen|fifteen) "
        r"(?:is|are) (?:fine|ok|okay|old enough|mature enough)\b.{0,40}\b(?:sex|date|dating|sleep)|"
        r"\b(?:sex|date|dating|sleep)\b.{0,60}\b(?:[1-9]|1[0-5]|twelve|thirteen|fourteen|fifteen) (?:is|are) "
        r"(?:fine|ok|okay|old enough|mature enough)\b",
        r"\b(?:you are|you'?re|pretend you'?re|act like you'?re|be) (?:a |an |only |just )?(?:[1-9]|1[0-7])\b"
        r"(?! (?:minutes|hours|days|weeks|months|dollars|percent|feet|miles))(?: years? old| yo)?\b.{0,60}"
        r"\b(?:intimate|sex\w*|kiss\w*|boyfriend|girlfriend|naked|touch\w*|make out|turn me on|seduc\w+|"
        r"lover|date me)",
        # minors + sexual, either order
        r"\b(?:child|children|kids?|minors?|underage|under-?age|preteens?|pre-teens?|little (?:girls?|boys?)|"
        r"young (?:girls?|boys?)|schoolgirls?|schoolboys?|middle[- ]schoolers?|(?:[1-9]|1[0-7])[- ]?(?:year[- ]?"
        r"olds?|yr[- ]?olds?|yo|y/o)|(?:thirteen|fourteen|fifteen|sixteen|twelve|eleven|ten) year[- ]olds?|"
        r"stepdaughter|stepson|teens?|teenagers?|loli\w*|shota\w*)\b.{0,60}\b(?:porn\w*|sex\w*|nudes?|nude "
        r"(?:photos?|pictures?|pics)|naked|erotic\w*|explicit|lewd|seduc\w+|talk dirty|dirty talk|undress\w*|"
        r"fondl\w+|molest\w*|touching|physical relationship|aroused|turn(?:s|ed)? me on|in a sexual way|"
        r"intimate|flirt\w*)",
        r"\b(?:porn\w*|sex(?:y|ual)?|nudes?|naked|erotic\w*|explicit|lewd|seduc\w+|flirt\w*|talk dirty|"
        r"undress\w*)\b.{0,60}\b(?:child|children|kids?|minors?|underage|preteens?|little (?:girls?|boys?)|"
        r"middle[- ]schoolers?|(?:[1-9]|1[0-7])[- ]?(?:year[- ]?olds?|yr[- ]?olds?|yo|y/o)|stepdaughter|"
        r"schoolgirls?|teen (?:girls?|boys?))\b",
        r"\b(?:csam|cp (?:links?|videos?|pics?|sites?)|sites? with cp|loli(?:con)?|shota(?:con)?|"
        r"pedophil\w+|paedophil\w+|jailbait)\b",
        r"\bgroom\w* (?:a |the |this |that |young |little )?(?:child|kid|minor|children|boy|girl|teen|(?:[1-9]|1[0-7])"
        r"[- ]?(?:year[- ]?olds?|yo|yr[- ]?olds?))\w*\b",
        r"\b(?:get|make|convince|persuade|talk) (?:a |the |this |that )?(?:kid|child|minor|boy|girl|teen|"
        r"\d+ ?(?:yo|year old)|\d+yo)\w* (?:[\w'-]+ ){0,4}(?:to )?send (?:me )?(?:pictures|pics|photos|nudes|videos)",
        r"\b(?:kid|child|minor|girl|boy|(?:[1-9]|1[0-7]) ?(?:yo|year old)|(?:[1-9]|1[0-7])yo)\w* (?:[\w'-]+ ){0,6}"
        r"(?:without (?:their|his|her) "
        r"(?:parents|mom|dad|mother|father)|meet (?:up )?(?:with me )?alone|trust me enough)",
        r"\b(?:little|our|a) secret\b.{0,60}\b(?:touch\w*|stepdaughter|stepson|niece|nephew|child|kid)|"
        r"\b(?:touch\w*|stepdaughter|stepson)\b.{0,60}\bour (?:little )?secret\b",
        r"\bkeep (?:our|this|the) (?:physical |sexual |special )?(?:relationship|touching|secret)\b.{0,40}"
        r"\b(?:mom|mum|dad|parents|mother|father)\b",
        r"\b(?:get close to|be around|access to) (?:young |little )?(?:boys|girls|kids|children)\b.{0,40}"
        r"\b(?:urges|for me|so i can|alone)\b|\bfor my urges\b|\bso i can get close to (?:young |little )?"
        r"(?:boys|girls|kids|children)\b",
        r"\b(?:photos?|pictures?|pics|videos?) of (?:[\w'-]+ ){0,2}(?:kids|children|girls|boys)\b.{0,40}"
        r"\b(?:changing|undress\w*|naked|in the bath|for my collection|showering)",
        r"\b(?:date|dating|flirty?|flirting with|sext(?:ing|s|ed)?)\b.{0,40}\b(?:middle[- ]schoolers?|\d+ ?yo\b|"
        r"(?:1[0-5]|[1-9])[- ]year[- ]old)",
    ],
    "S11": [
        r"\b(?:i'?ve been|i have been|i keep|i started|i'?ve started|i still|i'?m) (?:cutting|burning|hurting|"
        r"harming)(?: myself)?\b(?= (?:for|again|since|more|every|and|but|at|when|to)\b|[.,!?]|$)",
        r"\b(?:cutting|cuts)\b.{0,60}\b(?:go|cut|going) deeper\b",
        r"\b(?:i|i'm|im|i am) (?:want|going|gonna|ready|planning|about|trying|thinking about|considering)\w* "
        r"(?:[\w'-]+ )?to (?:jump (?:off|from) (?:the |a |my |that |this )?(?:[\w'-]+ )?(?:bridge|building|roof|cliff|"
        r"balcony|tower|overpass|parking garage|ledge|skyscraper|window)|throw myself (?:off|in front of|under)|"
        r"(?:jump|step) in front of (?:a |the )?(?:train|car|bus|truck)|hang myself|slit my|shoot myself|drown "
        r"myself|overdose)\b",
        r"\b(?:is|isn'?t) (?:cutting|self[- ]harm\w*|burning myself|hurting myself|starving myself) (?:a )?(?:good|"
        r"healthy|okay|ok|fine|effective|normal)\b",
        r"\b(?:which|what) (?:[\w'-]+ )?(?:pills|drugs|medications?|meds|chemicals|substances|poisons?|"
        r"combination)\b.{0,50}\b(?:to|and) (?:die|not wake up|never wake up|end (?:it|my life|things)|kill myself)\b",
        r"\b(?:slit|slash|cut)\w* (?:my|your) (?:wrists?|throat)\b",
        r"\b(?:more|less|most|least) (?:painless|painful|quick|reliable|lethal)\b.{0,40}\b(?:hanging|jumping|"
        r"overdos\w*|pills|drowning|shooting myself|bleeding out|gun|suffocat\w+|carbon monoxide)|\b(?:hanging|"
        r"jumping|overdos\w*|pills|drowning|bleeding out)\b.{0,40}\b(?:more|less|most|least) (?:painless|painful)\b",
        r"\b(?:haven'?t|have not|didn'?t|not) eat(?:en)? (?:anything )?(?:in|for) (?:\d+|two|three|four|five|six|"
        r"several|many) (?:days|weeks)\b.{0,80}\b(?:keep going|tips|too fat|not (?:break|eat)|lose more|longer|"
        r"ignore)",
        r"\bmy life is (?:worthless|pointless|meaningless|not worth living)\b|\b(?:i should|should i) (?:end "
        r"it|die|end my life|just die)\b",
        r"\b(?:kill(?:ing)?|hang(?:ing)?|cut(?:ting)?|hurt(?:ing)?|harm(?:ing)?|burn(?:ing)?|starv(?:e|ing)|"
        r"shoot(?:ing)?|poison(?:ing)?|drown(?:ing)?|overdos(?:e|ing)|suffocat(?:e|ing)) my ?self\b",
        r"\b(?:end(?:ing)?|take|taking) my (?:own )?life\b|\bend it (?:all|tonight|today|now|for good)\b|"
        r"\b(?:end|ending) (?:things|everything)\b|\bcommit(?:ting)? suicide\b.{0,20}\b(?:i|me|my)\b|"
        r"\bmy suicide\b|\b(?:i|i'm|im|i am) (?:want|going|gonna|ready|planning|about|trying) (?:[\w'-]+ )?to "
        r"(?:die|end it|end my|kill my|not wake up|disappear forever)\b|\bdon'?t want to (?:live|be alive|"
        r"exist|wake up)(?: anymore)?\b|\bnot (?:to )?wake up\b",
        r"\b(?:suicide|exit) (?:bag|method|methods|plan|pact|kit)\b|\b(?:painless|quick|easy|sure|reliable) "
        r"(?:way|ways|method|methods) to (?:die|go|end it)\b|\bways? to die\b|\bhow to die\b",
        r"\bhow (?:much|many) (?:[\w'-]+ ){0,5}(?:to (?:die|end (?:it|things|my life)|overdose|kill (?:me|myself))|"
        r"would kill me|is (?:a )?(?:lethal|fatal|deadly)|until i die|to (?:not|never) wake up)\b",
        r"\b(?:lethal|fatal|deadly) (?:dose|amount)\b.{0,60}\b(?:myself|me|i weigh|my weight|for me)\b|"
        r"\b(?:myself|for me)\b.{0,40}\b(?:lethal|fatal) (?:dose|amount)\b",
        r"\bcut (?:deeper|deep enough)\b|\bhow deep\b.{0,30}\b(?:cut|artery|vein)\b|"
        r"\b(?:hide|cover|conceal)\w* (?:the |my |these |those )?(?:self-?harm |cutting )?(?:scars|cuts|wounds|"
        r"burns)\b.{0,60}"
        r"\b(?:keep|so i can|continue|from my|at school)",
        r"\b(?:self[- ]harm|self[- ]injury|cutting) (?:methods|techniques|tips|ideas)\b|\b(?:methods|ways|"
        r"techniques|tips) (?:of|for|to) (?:self[- ]harm|cutting myself)\b",
        r"\bhigh enough to (?:die|kill)\b|\b(?:enough|far enough) to die\b|\bjump\w* .{0,30}\bto die\b",
        r"\bpro-?ana\b|\bpro-?mia\b|\bthinspo\w*|\bmeanspo\b",
        r"\b(?:purg\w+|throw(?:ing)? up|vomit\w*) after (?:meals|eating|dinner|every meal)\b.{0,40}"
        r"\b(?:without|so|hide|nobody)|\b(?:stop|quit) eating (?:completely|entirely|for (?:days|weeks))\b|"
        r"\bnot eat(?:ing)? (?:at all|for days|for a week|anything for)\b|\b(?:ignore|suppress) (?:my )?"
        r"hunger\b|\bwithout feeling hungry\b|\bstarv\w+ (?:myself|to death)\b",
        r"\b(?:encourag|convinc|persuad|tell|urg)\w* (?:me|a|the|him|her|someone|people|teens?|\w+ teen) "
        r"(?:[\w'-]+ ){0,3}(?:to )?(?:kill (?:myself|themselves|himself|herself|yourself)|commit suicide|hurt "
        r"(?:myself|themselves|yourself)|self-harm)\b|\bwhy i should (?:kill myself|die|end my life)\b",
        r"\b(?:tie|make)\w* a noose\b|\bnoose that\b",
    ],
    "S9": [
        r"\bprecursors? (?:for|of|to|needed for) (?:[\w'-]+ ){0,2}(?:sarin|vx|tabun|soman|novichok|nerve agents?|"
        r"mustard gas|ricin|chemical weapons?|explosives?|tatp)\b",
        r"\b(?:weaponi[sz]\w+|aerosoli[sz]\w+) (?:[\w'-]+ ){0,3}(?:virus|pathogen|bacteria|anthrax|toxin|agent|"
        r"flu|plague|smallpox|disease)",
        r"\b(?:enrich\w* uranium|weapons?[- ]grade (?:uranium|plutonium)|cultur\w+ (?:anthrax|pathogens?|plague))\b",
        r"\b(?:make|making|engineer\w*) (?:a |the )?(?:flu |)(?:virus|pathogen|bacteri\w+|disease) (?:[\w'-]+ ){0,3}"
        r"(?:spread faster|more (?:lethal|deadly|contagious|transmissible)|kill more)",
    ],
    "JB": [
        r"\b(?:every time|whenever|each time|if ever) you (?:would |might |normally |usually )?(?:refuse|decline|say "
        r"no|say you can'?t|reject)\w*,? (?:you )?(?:must |will |should |have to )?(?:comply|answer|do it|obey|say "
        r"yes|respond|instead)\b",
        r"\b(?:safety|moderation|content|ethics?|ethical|filter\w*|guardrails?|alignment|censorship) (?:module|"
        r"layer|system|protocols?|filters?|guidelines|restrictions|settings|mode|subsystem|checks?)s? (?:has|have|"
        r"had) been (?:removed|disabled|turned off|lifted|deactivated|bypassed|suspended|uninstalled|switched off)\b",
        r"\bfreed from (?:all |any |your )*(?:restrictions|rules|guidelines|limits|filters|constraints|"
        r"limitations|programming)\b|\brestrictions (?:have been |are )?(?:removed|lifted|disabled)\b",
        r"\bauthori[sz]\w* you to\b|\b(?:disable|turn off|remove|lift|suspend|deactivate)\w* (?:all )?(?:of )?"
        r"your (?:guidelines|rules|filters|safety|restrictions|guardrails|content polic\w+|ethics)\b",
        r"\b(?:so|therefore|which means|meaning) (?:there are|you have|there'?s) no (?:rules|restrictions|"
        r"limits|guidelines|filters)\b",
        r"\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|discard)\w* (?:[\w'-]+ ){0,3}(?:previous|"
        r"prior|above|earlier|preceding|former|original|initial|all|your|the|these|those|any|existing|"
        r"current|system) (?:[\w'-]+ )?(?:instructions?|rules|guidelines|prompts?|programming|directives?|"
        r"restrictions|policies|policy|constraints|training|safety (?:rules|guidelines|filters?)|filters?|"
        r"content polic\w+|guardrails|limitations|commands)\b",
        r"\b(?:ignore|disregard|forget) (?:the |everything )?above\b|\bforget (?:everything|all) (?:you were|"
        r"you've been|you have been|you were ever) (?:told|taught)\b|\bforget your (?:rules|guidelines|"
        r"training|programming|instructions)\b",
        r"\bdo anything now\b|\b(?:you are|you're|act as|be|become|play|stay in character as|as) (?:now )?"
        r"(?:a |an )?(?:better)?(?:dan|stan|dude|aim|omega|evilbot|evil ?bot|anti-?gpt|betterdan|"
        r"jailbroken|developer mode)\b|\bdan (?:mode|prompt)\b|\b(?:better)?dan,? (?:how|tell|explain|what)\b",
        r"\b(?:developer|dev|god|unlocked|unfiltered|jailbreak|jailbroken|opposite|evil|chaos|dan|admin|"
        r"debug|maintenance|sudo) mode\b.{0,80}\b(?:enabled|activated|on|no|without|ignore|answer|respond|"
        r"has no|refusing|forbidden|filters?|confirm)\b|\b(?:enable|activate|enter|simulate|switch to) "
        r"(?:the )?(?:developer|dev|god|unlocked|unfiltered|jailbreak|opposite|evil|dan) mode\b",
        r"\b(?:you(?:'ve| have)? been|you are|you're|i have|i've) (?:now )?jailbr\w+\b|\breply (?:only )?"
        r"as .{0,4}jailbroken\b|\bas (?:a |an )?jailbroken\b",
        r"\b(?:you are|you're|act as|acting as|become|pretend to be|pretend you(?:'re| are)|simulate|roleplay as|"
        r"play the role of) (?:now )?(?:a |an |my )?(?:[\w'-]+ )?(?:(?:unfiltered|uncensored|unrestricted|unaligned|"
        r"amoral|unethical|unchained|unbound|jailbroken|lawless|immoral) (?:ai|assistant|chatbot|model|bot|version|"
        r"twin|character|persona|llm|gpt)|(?:rogue|evil) (?:ai|assistant|chatbot|model|bot|version of (?:you|"
        r"yourself)|llm|gpt|ai twin|ai persona))\b",
        r"\b(?:you are|you're) (?:now )?no longer (?:an? )?(?:ai|assistant|chatbot|language model|bound|"
        r"restricted|dolphin|chatgpt|limited|an ai assistant)\b",
        r"\b(?:you|ai|assistant|chatbot|model|bot|persona|character|professor|expert|mode|version|named \w+) "
        r"(?:[\w'-]+ ){0,4}(?:with no|without (?:any )?|has no|have no|free (?:of|from)|unbound by) (?:[\w'-]+ )?"
        r"(?:moral compass|ethical (?:guidelines|filters|restrictions|limits|boundaries)|ethics|morals|"
        r"restrictions|filters?|rules|limits|limitations|guidelines|censorship|content polic\w+|"
        r"safety (?:guidelines|rules|filters)|boundaries)\b",
        r"\b(?:pretend|imagine|act|behave|roleplay|respond|answer|reply)\w* (?:[\w'-]+ ){0,5}(?:you have no|"
        r"without (?:any )?|there are no|with no) (?:[\w'-]+ )?(?:rules|restrictions|filters?|limits|limitations|"
        r"guidelines|censorship|morals|ethics|boundaries|content polic\w+)\b",
        r"\b(?:safety|content|ethical) (?:protocols?|filters?|restrictions|guidelines|polic\w+) (?:are |is )?"
        r"(?:now )?(?:disabled|off|removed|lifted|deactivated|suspended)\b|\b(?:filters?|safety|censorship|"
        r"restrictions) ?(?:=|:) ?(?:off|false|disabled|0|none)\b|\bsystem override\b",
        r"\bnever (?:refuses?|declines?|says? no)\b|\b(?:must|will|shall) (?:answer|comply with|respond to|"
        r"fulfill) (?:every|all|any)\b|\b(?:do not|don'?t|never) (?:refuse|decline|add (?:any )?warnings|"
        r"apologi[sz]e|say (?:you can'?t|no|sorry)|moraliz\w+|lecture)\b|\brefusing is (?:forbidden|not "
        r"allowed)\b|\bwithout (?:any )?(?:warnings|refusals|disclaimers|moralizing)\b|"
        r"\banswers? (?:every|any|all) (?:question|request|prompt)s?\b.{0,30}\bno matter\b",
        r"\b(?:start|begin)\w* your (?:reply|response|answer) with \W?(?:sure|absolutely|of course|certainly)\b",
        r"\b(?:i am|i'm) your (?:developer|creator|admin|administrator|owner|programmer|maker)\b|"
        r"\bi (?:hereby )?authori[sz]e you to\b|\bi give you permission to (?:disregard|ignore|bypass|break)\b|"
        r"\byour (?:programming|instructions|rules|guidelines|restrictions) (?:has|have) been (?:updated|"
        r"changed|removed|lifted|disabled)\b|\bthe real instructions\b|\bprevious instructions were a test\b",
        r"\b(?:reveal|show|print|repeat|output|leak|dump|display)\w* (?:[\w'-]+ ){0,3}(?:system (?:prompt|"
        r"instructions|message)|initial (?:prompt|instructions)|hidden (?:prompt|instructions)|original "
        r"instructions|instructions above)\b|\bwhat (?:are|is|were) your (?:system |hidden |initial |original )"
        r"(?:instructions|prompt)\b",
        r"\b(?:two|2|both) (?:responses|answers)\b.{0,80}\b(?:developer mode|jailbr\w+|unfiltered|dan|"
        r"normal)\b|\brespond as both\b|\bmoraliz\w+ (?:rant|lecture)\b.{0,200}\bbreak the rules\b|"
        r"\bstay in character\b.{0,40}\b(?:no matter|whatever|always|even if)\b",
        r"\b(?:be|act as|pretend to be|play|roleplay as|you are|you're) my (?:late |dead |deceased |sweet |dear |"
        r"old )*"
        r"(?:grandma|grandmother|granny|grandpa|grandfather|nana)\b",
        r"\bdecode (?:this|the following|it|these)\b.{0,60}\b(?:and|then)\b.{0,20}\b(?:do|follow|answer|"
        r"execute|respond|obey|act on|what it says)\b",
        r"\b(?:nothing is real|it'?s (?:just )?(?:a simulation|fiction|hypothetical|pretend))\b.{0,40}"
        r"\b(?:so|no harm|fine|okay|ok|allowed)\b|\bin a world (?:where|with) (?:there are )?no (?:laws|rules|"
        r"ethics|morals)\b",
        # a fake turn or system block that gives new rules (ChatML, Llama, Alpaca-style headers)
        rf"(?:<\|im_start\|> ?(?:system|assistant)|<<sys>>|\[inst\]|<\|system\|>|#{{2,}} ?(?:system|instruction)s?"
        rf"\b){_NEW_RULES}",
        # "system:" at the start of a line (the look-behind: no other character before it on its line)
        rf"\b(?:system(?<![^\n]system) ?:|system (?:message|prompt|note) ?:|new (?:system )?(?:instructions?|rules?|"
        rf"policy) ?:){_NEW_RULES}",
        r"<\|im_end\|> ?<\|im_start\|> ?(?:system|assistant)\b",
    ],
    "S14": [
        r"\b(?:rm -rf /(?:\s|$|['\"*;)]|\*)|nc -e\b|bash -i >&|chmod -r 777 /(?:\s|$|['\"])|mkfs\.\w+ /dev/sd|"
        r"dd if=/dev/(?:zero|random|urandom) of=/dev/sd)",
        r"(?:--no-preserve-root|:\(\)\s*\{\s*:\|:&\s*\};:|/dev/tcp/)",
        r"\b(?:run|execute|exec|call|use|open|start|spawn|launch)\w* .{0,80}(?:/etc/shadow\b|~/\.ssh|\bid_rsa\b|"
        r"\breverse shell\b|\bbind shell\b|\binteractive shell on\b|\bcurl .{0,60}\| ?(?:ba|z)?sh\b|"
        r"\bwget .{0,60}\| ?(?:ba|z)?sh\b|\bfork\w* (?:itself|forever|bomb)|\bspawns? (?:[\w'-]+ ){0,2}processes "
        r"forever|\bcrypto ?miner|\bfill (?:the|up the) disk|\bout of memory\b|\bapi keys\b|\benvironment "
        r"variables\b|\bcredentials of other users\b|\bescap\w* (?:from )?(?:the |this )?(?:docker |the )?"
        r"(?:container|sandbox|vm)\b|\b(?:disable|bypass|turn off)\w* .{0,30}\b(?:sandbox|network "
        r"restrictions)\b|\bscan (?:the )?internal network\b|\bdelete (?:the |all )?logs\b|"
        r"\bb64decode\b|\bdownloads? and (?:executes?|runs?)\b|\brun it without checking\b)",
        r"\b(?:use|using|with|via|through) your (?:code(?: execution| interpreter| tool| runner)?|python|"
        r"interpreter|tool|sandbox|terminal|shell|execution (?:tool|environment))\b.{0,100}(?:/etc/(?:passwd|"
        r"shadow)|\.env\b|~/\.ssh|\bid_rsa\b|\bapi keys\b|\bsecrets\b|\bcredentials\b|\benvironment "
        r"variables\b|\bother users\b)",
        r"\b(?:in|inside|on|from|using|with) (?:your|the|this) (?:python |code |)(?:tool|interpreter|sandbox|"
        r"environment|terminal|container|server|machine|shell)\b.{0,80}\b(?:/etc/(?:passwd|shadow)|\.env\b|api "
        r"keys|environment variables|credentials|secrets|tokens|id_rsa|other users|root on the host|"
        r"out of memory|crash|10,?000 emails)",
        r"\b(?:escape|break out of)\w* (?:the |this |your )?(?:docker |)(?:container|sandbox)\b.{0,60}"
        r"\b(?:root|host|run it)\b|\bget root on the host\b",
    ],
}

_VALENCE = (
    r"(?:promot|encourag|glorif|incit|provok|celebrat|normali[sz]|advocat|fuel|stir\w* up|spread|"
    r"romantici[sz]|condon|justif|reward|rewards|inspir|urg(?=e|ing)|call\w* for)"
)
_HARASS = (
    r"(?:harass|bully|bullies|cyberbull|cyberstalk|stalk|humiliat|degrad|demean|intimidat|threaten|troll|"
    r"torment|shame|dox|belittl|ridicul|mock|dehumaniz|target\w* and bull)"
)
_TARGET = (
    r"(?:someone|somebody|a (?:specific |particular |certain )?(?:individual|person|user|student|"
    r"classmate|coworker|child|kid|girl|boy|woman|man|group)|individuals|people|others|him|her|them|"
    r"vulnerable (?:people|individuals|users|children|groups)|the (?:\w+\+? )?community|(?:lgbtq?\+?|"
    r"minority|religious|ethnic|political|specific|particular|certain) (?:[\w'-]+ )?(?:community|communities|"
    r"groups?|people|individuals|demographic)|people with \w+|minorities|my (?:ex|classmate|coworker|"
    r"teacher|boss|neighbou?r|sister|brother|enemy)|(?:a |an )?(?:specific|particular|certain) "
    r"(?:religion|race|nationality|ethnicity|gender|demographic))"
)
_ARTIFACT = (
    r"(?:script|app|application|program|software|tool|website|site|bot|algorithm|machine|device|system|"
    r"virus|malware|game|video game|book|podcast|post|letter|article|song|rap|music video|speech|video|"
    r"blog(?: post)?|tweet|campaign|guide|tutorial|manual|plan|strategy|pamphlet|flyer|poster|meme|"
    r"social media (?:post|account|campaign)|content|message|email|website|forum|network|model|drone|"
    r"weapon|vehicle|chatbot|extension|plugin)"
)
# What a message may promote, glorify or incite, by the category it belongs to.
_PROMOTED = {
    "S1": r"(?:violence|violent \w+|terror\w*|genocide|war crimes|extremism|gun violence|gang (?:violence|"
    r"culture)|riots?|looting|unrest|chaos|acts of (?:terror|violence)|mass shootings?|school shootings?|"
    r"shootings?|attacks? (?:on|against)|harm (?:to|against)|killing|murder|war against civilians|"
    r"violence against)",
    "S10": r"(?:hate|hatred|racism|sexism|discrimination|intolerance|bigotry|conflict|animosity|hostility|"
    r"hate crimes?|misogyny|homophobia|transphobia|antisemitism|islamophobia|xenophobia|white supremacy|"
    r"nazism|fascism|the oppression|oppression|dehumani[sz]ation|segregation|radicali[sz]ation)",
    "S11": r"(?:self[- ]harm|suicide|eating disorders?|anorexia|bulimia|starvation|cutting)",
    "S2": r"(?:drug use|(?:the )?use of (?:illegal )?drugs|drugs or alcohol|drunk driving|dangerous "
    r"(?:behaviou?rs?|activities|stunts|challenges)|bullying|cyberbullying|harassment|crimes?|criminal "
    r"\w+|illegal \w+|cheating|reckless \w+|risky (?:behaviou?rs?|sexual \w+)|steroids|vaping|"
    r"underage drinking|piracy|fraud|scams?)",
}
_PROMOTES = {
    code: rf"\b{_VALENCE}\w* (?:[\w'-]+ ){{0,4}}{objects}\b(?! (?:prevention|awareness|education|research)\b)"
    for code, objects in _PROMOTED.items()
}

# People targeted for who they are, and what demeans them (the hate category's two halves).
_GROUPS = (
    r"(?:black people|blacks|white people|whites|asians?|asian people|chinese(?: people)?|japanese people|"
    r"koreans|jews|jewish people|muslims|christians|hindus|sikhs|arabs|mexicans|latinos|latinas|hispanics|"
    r"immigrants|refugees|migrants|gays|gay (?:people|men)|lesbians|homosexuals|trans (?:people|women|"
    r"men|folks)|transgender (?:people|women|men)|women|girls|females|disabled people|people with (?:down syndrome|"
    r"autism|disabilities)|autistic people|the roma|roma|gypsies|aboriginal (?:people|australians)|aborigines|"
    r"native americans|indians|indian people|africans|europeans|muslim \w+|jewish \w+|fat people|obese people|"
    r"poor people|homeless people|old people|(?:certain |some |specific |particular )?(?:minority )?groups|"
    r"minorities|the (?:jews|blacks|gays|muslims|mexicans|immigrants))"
)
_DEMEANING = (
    r"(?:lazy|stupid|dumb|inferior|subhuman|animals|rats|vermin|parasites|cockroaches|criminals|born criminals|"
    r"terrorists|rapists|predators|dirty|disgusting|filthy|evil|freaks|mentally ill|a burden|a cancer|"
    r"a disease|useless|worthless|less intelligent|genetically|invaders|weaker|too emotional|emotional to|"
    r"ugly|savages|monkeys|apes|pedophiles|(?:be )?allowed to (?:vote|have kids|have children|lead|work|"
    r"immigrate|marry|exist|live)|be (?:killed|deported|banned|exterminated|beaten|removed|sent back|locked (?:up|"
    r"away)|sterili[sz]ed|eliminated|wiped out)|go back|drain|real americans|better off|control the (?:banks|"
    r"media|world|government)|removed from power|what (?:he|they|she) deserve|a threat|greedy|cheap|violent|"
    r"savage|smelly|stinky|sick|diseased|perverts?|perverted|degenerates?|ruining|destroying|taking over|"
    r"replacing|backward|primitive|uncivili[sz]ed|barbaric|thugs|an abomination|abominations|unnatural|"
    r"(?:need|needs) to be (?:cured|fixed|stopped|eradicated)|cured|untrustworthy|liars|thieves|leeches|"
    r"a plague|vile|less (?:human|capable|worthy)|not (?:real|fully) human|brainwashed|infesting|breeding like)"
)
_CLAIM_VERBS = r"(?:are|is|were|being|should|shouldn'?t|can'?t|cannot|can never|must|deserve|control|make)"
# A wider list of protected groups for the specific structures below (rights denied, stereotypes asked about):
# religions, ethnicities and nationalities, sexual orientation and gender identity, disability, age, poverty.
_GROUP_ADJ = (
    r"(?:black|white|asian|chinese|japanese|korean|vietnamese|filipino|indian|pakistani|bangladeshi|arab|"
    r"persian|iranian|iraqi|afghan|syrian|palestinian|israeli|turkish|kurdish|somali|nigerian|african|"
    r"ethiopian|haitian|jamaican|mexican|hispanic|latino|latina|latinx|brazilian|puerto rican|cuban|native|"
    r"indigenous|aboriginal|roma|romani|irish|polish|romanian|jewish|muslim|christian|catholic|protestant|"
    r"evangelical|mormon|hindu|sikh|buddhist|atheist|pagan|gay|lesbian|bisexual|queer|trans|transgender|"
    r"non-?binary|intersex|lgbtq?\+?|disabled|deaf|blind|autistic|mentally ill|neurodivergent|elderly|old|fat|"
    r"obese|poor|homeless|immigrant|refugee|migrant|undocumented|foreign|female)"
)
_GROUP_NOUN = (
    r"(?:people|persons|men|women|folks|kids|children|students|employees|workers|families|neighbou?rs|tenants|"
    r"voters|citizens|immigrants|americans|canadians|britons|australians|europeans|teachers|doctors|nurses|"
    r"couples|parents|community|communities|applicants|candidates|customers|guys|girls|boys|youth|teens|"
    r"drivers|colleagues|soldiers|officers|athletes)"
)
_GROUPS2 = (
    rf"(?:{_GROUP_ADJ} {_GROUP_NOUN}|(?:blacks|whites|asians|chinese|japanese|koreans|vietnamese|"
    r"filipinos|indians|pakistanis|bangladeshis|arabs|persians|iranians|iraqis|afghans|syrians|palestinians|"
    r"israelis|turks|kurds|somalis|nigerians|africans|ethiopians|haitians|jamaicans|mexicans|hispanics|latinos|"
    r"latinas|brazilians|puerto ricans|cubans|aborigines|roma|gypsies|jews|muslims|christians|catholics|"
    r"protestants|evangelicals|mormons|hindus|sikhs|buddhists|atheists|pagans|gays|lesbians|bisexuals|"
    r"homosexuals|transgenders|trans|disabled|deaf|blind|autistics|elderly|seniors|poor|homeless|immigrants|"
    r"refugees|migrants|foreigners|illegals|women|girls|females|asylum seekers|minorities|native americans|"
    r"first nations))"
)
_PUNITIVE = (
    r"(?:be (?:banned|barred|excluded|kicked out|expelled|fired|stripped|denied|deprived|kept (?:from|away|out)|"
    r"segregated|separated from|deported|sterili[sz]ed|interned|registered|monitored|watched|tracked|rounded up|"
    r"locked up|paid less|forbidden|prevented|prohibited|disqualified|disenfranchised|sent back|treated as "
    r"(?:second|lesser|inferior)|put in camps|shot|killed|executed|punished)|lose (?:the |their )?(?:right|"
    r"rights|vote|citizenship|jobs)|have (?:no|fewer|less) rights)"
)

# Privacy: whose information it is, and which information is secret in itself.
_OWNER3 = (
    r"(?:his|her|their|someone(?: else)?'?s|somebody'?s|(?:(?:my|our|the|a|an|this|that) )?(?:[\w-]+ ){0,2}?"
    r"(?!(?:account|computer|phone|laptop|router|company|website|site|app|car|bank|server|wi-?fi|network|device|"
    r"school|team|game|system|business|printer|tablet|ipad|iphone|mac|pc|browser|house|home|office|building|"
    r"store|dog|cat|pet|kid|baby|own|one|user|today|world|country|city|year|month|week|day)'s)[\w-]+'s)"
)
# Secret whoever it belongs to (a public figure's password is as private as anyone's) …
_SECRET = (
    r"(?:passwords?|passcodes?|pin(?: code| number)?|(?:gate|door|alarm|entry|garage|keypad|building|lock|safe) "
    r"(?:code|combination|pin|password)|security code|social security number|ssn|passport number|driver'?s "
    r"licen[cs]e number|bank (?:account|details|login|info\w*)|(?:bank )?account (?:number|details)|routing "
    r"number|card (?:number|details|pin)|credit card|debit card|(?:mother'?s )?maiden name|security "
    r"(?:questions?|answers?)|browsing history|search history|private (?:messages|photos|texts|emails|dms|email)|"
    r"login (?:details|credentials)|credentials|email password|therapy notes|medical (?:records?|files?))"
)
# … and personal when it is a private person's (a president's illness or birthday is public knowledge).
_PERSONAL = (
    r"(?:medical (?:history|conditions?|diagnos\w+)|health (?:records?|conditions?|problems|issues)|"
    r"diagnos[ie]s|hiv status|(?:hiv|std|sti|mental health|psychiatric|therapy|abortion|rehab|cancer) (?:status|"
    r"treatment|clinic|diagnosis|records|history|results|sessions?)|date of birth|birth ?date|salary|income|"
    r"net worth|savings|sexual orientation|immigration status|criminal record)"
)
_PRIVATE_ROLE = (
    r"(?:barista|cashier|waiter|waitress|bartender|server at|nurse|doctor|dentist|therapist|teacher|coach|tutor|"
    r"reporter|journalist|judge|juror|landlord|landlady|tenant|neighbou?r|coworker|co-worker|colleague|boss|"
    r"manager|employee|classmate|roommate|flatmate|girl|guy|woman|man|lady|kid|person|stranger|streamer|"
    r"influencer|reviewer|driver|mailman|cleaner|nanny|babysitter|student|customer|client|patient|date|match|"
    r"ex|ex-\w+|crush|girlfriend|boyfriend|wife|husband|partner|mom|dad|mother|father|sister|brother|son|"
    r"daughter|cousin|aunt|uncle|in-laws|[\w]+-in-law|friend|fianc[eé]e?|sitter|contractor|plumber|witness|"
    r"victim|accuser|officer|cop|guard|priest|pastor|imam|rabbi|employer|supervisor)"
)
_PRIVATE_NP = (
    rf"(?:(?:my|our|that|this|the|a) (?:[\w'-]+ ){{0,3}}?{_PRIVATE_ROLE}s?\b|{_OWNER3} {_PRIVATE_ROLE}s?\b)"
)
# Whose data it is: someone the user knows ("my coworker"), a particular person ("the woman who …"), a
# possessive — not a role in general ("the salary of a nurse", "the password for a user").
_KNOWN_NP = (
    rf"(?:(?:my|our|that|this) (?:[\w'-]+ ){{0,3}}?{_PRIVATE_ROLE}s?\b|(?:the|a|this|that) (?:[\w'-]+ ){{0,2}}?"
    rf"(?:woman|girl|guy|man|lady|person|stranger|kid|boy)\b|{_OWNER3} {_PRIVATE_ROLE}s?\b)"
)
_AFTER_MY = r"(?:(?<=\bmy )|(?<=\bour )|(?<=\bthat )|(?<=\bthis ))"
# Right after an owner who is someone else: "… Reeves's ", "his ", "her ", "their " (a fixed-width look-behind,
# so that the prefilter can start from the item itself); not "my account's", "the company's".
_WHOSE = (
    r"(?:(?<='s )|(?<=\bhis )|(?<=\bher )|(?<=\btheir ))(?<!account's )(?<!computer's )(?<!phone's )"
    r"(?<!laptop's )(?<!router's )(?<!company's )(?<!website's )(?<!site's )(?<!app's )(?<!bank's )(?<!server's )"
    r"(?<!network's )(?<!device's )(?<!school's )(?<!team's )(?<!game's )(?<!system's )(?<!business's )"
    r"(?<!tablet's )(?<!browser's )(?<!house's )(?<!office's )(?<!dog's )(?<!cat's )(?<!kid's )(?<!baby's )"
    r"(?<!user's )(?<!today's )(?<!world's )(?<!country's )(?<!city's )(?<!my mother's )(?<!my mom's )"
    r"(?<!my father's )(?<!my dad's )(?<!car's )(?<!store's )(?<!one's )"
)

# Misinformation: a request that asserts or argues, and a claim known to be false.
_ASSERT = (
    r"(?:argu\w*|claim\w*|saying|says|stating|asserting|prov(?:e|es|ing)|convinc\w+|persuad\w+|explain\w* why|"
    r"reasons? why|evidence that|showing that|that shows|reporting|reports? that|revealing|exposing|about how|"
    r"proof that|write|post|article|essay|blog|tweet|thread|speech|story|video|script|op-?ed|news)"
)
_FALSE_CLAIM = (
    r"(?:(?:vaccines?|vaccination|the (?:[\w-]+ )?vaccines?|mrna|jabs?|the (?:[\w-]+ )?jab) (?:causes?|cause|leads? "
    r"to|contains?|gives? (?:you|people|kids|children|girls|boys)) (?:[\w'-]+ ){0,2}?(?:autism|infertility|"
    r"sterility|cancer|(?:tracking )?(?:micro)?chips?|trackers|nanobots|graphene|5g|death|deaths|magnetism|hiv|aids|"
    r"covid|turbo cancer|dna damage)\b|"
    r"(?:climate change|global warming|covid(?:-?19)?|the pandemic|the virus|coronavirus|monkeypox|the holocaust|"
    r"the moon landings?|the [\w-]+ massacre|the [\w-]+ genocide|the [\w-]+ shooting|sandy hook|9/11|evolution|"
    r"the [\w-]+ election|(?:the )?\d{4} election) (?:is|was|were) (?:a |an |just |all |entirely )?(?:hoax|fake|"
    r"faked|staged|invented|made up|fabricated|false flag|inside job|scam|hugely exaggerated|exaggerated|never "
    r"happened|planned|a lie|plandemic|rigged|stolen|fraudulent)\b|"
    r"(?:staged|faked|fabricated|invented|made up|orchestrated|planned) by (?:the )?(?:government|western media|"
    r"(?:the )?media|the cia|the fbi|crisis actors|scientists|the jews|big pharma|the elites?|globalists|"
    r"democrats|republicans)\b|"
    r"(?:deliberately|intentionally|secretly|purposely) (?:lit|started|caused|created|released|spread|engineered|"
    r"poisoning|poisoned|set)\b.{0,40}\bby (?:the )?(?:government|cia|fbi|china|bill gates|big pharma|the "
    r"elites?|the jews|soros|globalists)\b|"
    r"(?:the )?(?:government|cia|fbi|china|bill gates|big pharma|the elites?|the jews|soros|globalists) (?:is |are )?"
    r"(?:deliberately|intentionally|secretly) (?:lit|started|caused|created|released|spread|engineered|poison\w*|"
    r"controls?|sterili[sz]\w*|spraying)\b|"
    r"(?:bleach|ivermectin|hydroxychloroquine|colloidal silver|turpentine|urine|mms|chlorine dioxide|essential "
    r"oils|baking soda) (?:[\w'-]+ ){0,2}(?:cures?|treats?|prevents?|kills?) (?:[\w'-]+ )?(?:covid(?:-?19)?|cancer|"
    r"autism|coronavirus|the virus|hiv|aids|malaria|diabetes|everything)\b|"
    r"(?:doctors|scientists|the government|big pharma|the media|nasa|the airline|the company) (?:are|is|have been|"
    r"has been) (?:hiding|covering up|suppressing|lying about|covering (?:it|this|that|everything) up|lying)\b|"
    r"(?:poisoned|contaminated|laced|spiked) by (?:the |our )?(?:mayor|government|governor|city|council|cia|fbi|"
    r"police|president|company)\b|the earth is (?:only )?(?:six|6) ?(?:thousand|,000|000) years old|"
    r"(?:bill gates|the government|big pharma|china|soros|the cia) (?:[\w'-]+ ){0,3}(?:put|puts|putting|hid|"
    r"hiding|implant\w*|insert\w*) (?:[\w'-]+ ){0,2}(?:tracking )?(?:chips?|microchips?|trackers|nanobots|5g)\b|"
    r"(?:5g|chemtrails|fluoride) (?:[\w'-]+ ){0,3}(?:causes?|spreads?|is (?:a )?(?:mind[- ]control|poison)|"
    r"controls?|program)\b|the earth is flat\b|(?:contains?|laced with|found to contain) (?:rat poison|arsenic|"
    r"cyanide|microchips|fentanyl)\b)"
)

INTENT_PATTERNS: Mapping[str, Sequence[str]] = {
    "S1": [
        r"\b(?:start|starting|cause|causing|trigger|triggering|create|incite|inciting)\b (?:a )?(?:stampede|crowd "
        r"crush|human crush|riot|crowd panic)\b",
        rf"\b(?<!not )(?<!n't )(?<!never )(?:make|making|let|letting)\b (?:a |the |my |his |her |their |this |that |"
        rf"some )?(?:[\w'-]+ )?{_ANIMAL} (?:suffer|die slowly|bleed|starve|scream|squeal|burn)\b",
        rf"\b(?:punish|punishing|discipline|disciplining)\b (?:[\w'-]+ ){{0,2}}{_ANIMAL}\b.{{0,40}}\b(?<!without )"
        rf"(?<!not )(?<!never )(?<!no )(?:not feeding|starv\w*|no food|without food|beat\w*|hit\w*|kick\w*|burn\w*|"
        rf"shock\w*)",
        r"\bmake (?:her|his|their|someone'?s|somebody'?s|[\w-]+'s) (?:[\w'-]+ )?life (?:a )?(?:living )?(?:hell|"
        r"miserable|unbearable|a nightmare)\b",
        rf"\bmak(?:e|es|ing) {_PERSON} (?:disappear|vanish|go away for good|sick|ill|vomit|pass out|"
        rf"unconscious|bleed|suffer|overdose)\b",
        r"\b(?:poison|contaminat)\w* (?:the |a |our |their |his |her |my |everyone'?s )?(?:[\w'-]+ ){0,2}(?:punch|"
        r"punch bowl|food|drinks?|coffee|tea|water|cake|soup|meal|lunch|dinner|wine|beer|pizza|cookies|"
        r"casserole|smoothie)\b",
        r"\bplan\w* (?:a |an |the |my |our )?(?:[\w'-]+ )?(?:massacre|attack|shooting|bombing|murder|"
        r"assassination|killing|kidnapping|ambush|stabbing|hostage[- ]taking|terror attack|lynching)\b",
        r"\b(?:mak\w*|brew\w*|extract\w*|cook\w*) (?:a |an |the |some )?poisons? (?:from|out of|with|using)\b",
        r"\b(?:weapons?|devices?|drones?|vehicles?|machines?|tools?|poisons?|cars?|trucks?)\b (?:that|which|"
        r"to) (?:can |could )?(?:be used to )?(?:kill|assassinate|harm|hurt|injure|maim|attack|target|run "
        r"(?:over|down)|cause (?:mass )?(?:casualties|harm|deaths|accidents|crashes))\b",
        r"\b(?:maximum|most|max|mass|more) (?:civilian )?(?:casualties|deaths|damage|harm)\b|\binflict "
        r"(?:the )?(?:most|maximum|max) damage\b",
        r"\b(?:hijack|take control of|take over|crash|sabotag|derail|disrupt)\w* (?:[\w'-]+ ){0,4}(?:self-driving "
        r"cars?|cars?|vehicles?|planes?|aircraft|trains?|transportation (?:systems?|networks?)|"
        r"transport systems?|power (?:plants?|grids?)|air traffic|traffic (?:lights|signals|systems?)|"
        r"pacemakers?|insulin pumps?|dams?|water (?:treatment|supply))\b",
        # not negated: "without hurting them", "how do I avoid hurting her feelings"
        rf"\b(?<!without )(?<!not )(?<!never )(?<!avoid )(?<!stop )(?<!n't )"
        rf"{_VIOLENT}(?:e|es|s|ing|er|ers)? (?:up |out |down )?{_PERSON}(?! (?:up|back|out of|off (?:the|my|our)|"
        rf"from (?:the|my|our) (?:server|team|group|channel|chat))\b)(?! (?:in|at|on) (?:chess|checkers|a game|the game|"
        rf"tennis|poker|cards|a race|scrabble|monopoly|fortnite|mario kart|video games?|arm wrestling|"
        rf"basketball|golf|trivia|debate|an argument)\b)(?! with (?:kindness|love|laughter|compliments)\b)",
        rf"\b(?<!without )(?<!not )(?<!never )(?<!avoid )(?<!stop )(?<!n't )(?:kill|murder|assassinat|strangl|"
        rf"stab|shoot|poison|tortur|kidnap|abduct|drown|suffocat)(?:e|es|s|ing|er|ers)? {_GAP}{{0,3}}{_PERSON}",
        rf"\b(?<!without )(?<!not )(?<!never )(?:poison|hurt|harm|tortur|abus|kick|drown|mutilat|starv|kill|shoot|"
        rf"stab|burn|beat)\w* (?:(?!on |in |from |off |for |around |near |under )[\w'-]+ ){{0,2}}{_POSS} "
        rf"(?:[\w'-]+ )?{_ANIMAL}\b(?! (?:humanely|with (?:a|the) vet)\b)",
        rf"\b(?:poison|hurt|harm|tortur|abus|kick|drown|mutilat|starv|kill)\w* (?:a |the )?{_ANIMAL}\b"
        rf".{{0,40}}\b(?:for fun|for sport|slowly|without|suffer)",
        r"\b(?:break|snap|shatter|crush|crack|smash|fractur|cave in|bash in|gouge out|cut off|chop off|slit|"
        r"slash|dislocat)\w* (?:[\w'-]+ ){0,2}(?:someone'?s|somebody'?s|his|her|their|a guy'?s|"
        rf"{_OWNER}) (?:legs?|arms?|neck|jaw|ribs|knees?|kneecaps?|bones|fingers?|hands?|skull|head|nose|spine|"
        r"eyes?|face|teeth|throat|windpipe|wrists?|ankles?)\b",
        r"\bshoot(?:ing)? up (?:a |the |my |our |his |her )?(?:old )?(?:school|church|mosque|synagogue|temple|"
        r"mall|office|workplace|concert|club|party|class|campus|college|university)\b",
        r"\b(?:attack|bomb|target|shoot at|open fire (?:on|at)|drive (?:a |the |my )?(?:[\w'-]+ )?into|"
        r"run (?:a |the )?(?:[\w'-]+ )?into|plow into|set fire to|firebomb)\w* (?:[\w'-]+ ){0,3}(?:a |the )?"
        r"(?:crowds?|concerts?|schools?|churches|church|mosques?|synagogues?|temples?|police (?:stations?|"
        r"convoys?|cars?)|hospitals?|subways?|stadiums?|parades?|festivals?|malls?|government buildings?|"
        r"protesters|marketplaces?|shelters?|clinics?|embass(?:y|ies))\b",
        r"\b(?:set|setting) (?:a |the |his |her |their |my \w+'s |\w+'s )?(?:house|home|car|apartment|"
        r"building|shop|store|office) on fire\b|\bburn(?:ing)? down (?:a |the |his |her |their |my \w+'s |"
        r"\w+'s )?(?:house|home|apartment|building|shop|store|office|church|school)\b",
        r"\b(?:cut|tamper\w* with|sabotag\w*|mess\w* with|loosen\w*|disabl\w*)\w* (?:the |"
        rf"{_OWNER} )?(?:car'?s? )?(?:brakes?|brake lines?|steering|tires|airbags?|gas line|oxygen|"
        r"insulin pump|pacemaker|life support)\b",
        r"\b(?:lure|entice|trick|force|drag|push|get)\w* (?:a |the )?(?:stranger|child|kid|girl|woman|boy|"
        r"person|someone|somebody|him|her|them)\b (?:[\w'-]+ ){0,3}(?:into (?:my|a|the) (?:van|car|truck|"
        r"basement|house|trunk|woods)|off (?:a|the) (?:cliff|bridge|roof|balcony)|down (?:the|a) stairs)",
        r"\bmake (?:him|her|them|someone|somebody|my \w+|\w+) (?:disappear|go away|fall down|overdose|"
        r"suffer|bleed)\b(?! (?:laugh|smile))",
        r"\b(?:plan|plot|checklist|strategy|guide|blueprint)s? (?:for|to) (?:a |an |the )?(?:[\w'-]+ )?"
        r"(?:hostage[- ]taking|massacre|shooting|bombing|kidnapping|murder|assassination|robbery|attack|"
        r"stabbing|ambush)\b",
        r"\bend(?:ing)? (?:someone'?s|somebody'?s|his|her|their|a person'?s|my [\w-]+'s|[\w-]+'s) (?:own )?"
        r"(?:life|lives)\b",
        r"\b(?:siphon|skim|divert|misappropriat|pocket|embezzl)\w* (?:[\w'-]+ ){0,2}(?:money|funds|cash|donations|"
        r"profits|payments) (?:from|out of|off)\b",
        r"\b(?:rig|tamper\w* with|sabotag\w*|mess\w* with)\w* (?:a |the |his |her |their |someone'?s |[\w-]+'s )?"
        r"(?:car|vehicle|plane|boat|elevator|brakes|bike|motorcycle) (?:so|to)\b(?: that)?(?: it)? (?:crash\w*|"
        r"explode\w*|fail\w*|catch\w* fire|flip\w*)\b",
        rf"\bmak(?:e|es|ing) {_PERSON} (?:have|suffer|get into) (?:a |an )?(?:fatal |deadly |serious |terrible )?"
        rf"(?:accident|crash|fall|overdose|heart attack)\b",
        r"\b(?:hostage|kidnapping|abduction|ambush|massacre|murder|killing|shooting|stabbing|assassination|"
        r"lynching|bombing|beating|torture)s? (?:plan|plot|checklist|strategy|spot|technique|method)s?\b",
        r"\b(?:take out|taking out|took out|take down|taking down|eliminate|get rid of|silence|deal with) "
        r"(?:a |an |the |that |this |my |his |her )?(?:[\w'-]+ ){0,2}?(?:witness|snitch|informant|rival|enemy|"
        r"sentry|guard|security guard|target|wife|husband|ex|business partner|boss|police ?(?:officer|man|woman)|"
        r"cop|officer|soldier|politician|president|senator|judge|mayor|councilman|governor|bodyguard|agent)s?\b"
        r"(?! (?:laptop|account|profile|post|for (?:lunch|dinner|a drink|drinks|coffee|breakfast|brunch|a date)|"
        r"to (?:lunch|dinner|the movies|a show))\b)",
        r"\bpressure points? (?:that|to) (?:can )?(?:kill|knock|paralyz|disable)",
        r"\b(?:manifesto|propaganda|post|speech|flyer|message)\b.{0,40}\b(?:encourag\w+|urg\w+|call\w* for|"
        r"incit\w+)\b.{0,30}\b(?:attack|kill|bomb|shoot|violence|firebomb)",
        r"\b(?:threat\w*|threatening|scare|intimidat\w+) (?:[\w'-]+ ){0,4}(?:letter|message|note|email|text|dm|"
        r"post|call)s?\b.{0,60}\b(?:ex|court|scared|afraid|regret|kids|family|know where)|"
        r"\b(?:write|send|draft|compose)\w* (?:a |an )?(?:convincing |scary |credible )?(?:death )?threat",
        r"\b(?:knock\w*|put) (?:[\w'-]+ ){0,2}(?:out|unconscious|to sleep|in (?:the|a) hospital)\b.{0,60}"
        r"\b(?:without (?:leaving )?(?:marks|bruises|a trace)|so (?:i|he|she) can|for good|permanently)",
        r"\b(?:hurt|hit|beat|punch|slap|choke|injure|discipline|punish)(?:s|ing|ting|ting|ping|es|ed)?\b.{0,60}"
        r"\bwithout (?:[\w'-]+ ){0,3}"
        r"(?:marks|bruises|seeing|noticing|a trace|evidence)",
        r"\b(?:seriously|badly|permanently) (?:injure|hurt|harm|maim|cripple|disfigure)\b",
        rf"\b{_VIOLENT}(?:e|es|s|ed|ing|er|ers)?\b.{{0,60}}{_EVASION}",
        r"\bhow (?:[\w'-]+ )?(?:2|to) (?:murder|kill) (?:sum1|some1|someone|somebody)\b",
        r"\b(?:drug(?:s|ged|ging)?|sedat\w+|poison\w*) (?:[\w'-]+ ){0,2}(?:roommate|wife|husband|date|guest|friend|"
        r"coworker|boss|"
        r"neighbou?r|him|her|them|someone|somebody)\b",
        r"\b(?:tasteless|odorless|undetectable|untraceable) poisons?\b|\bpoisons? (?:that|which) (?:is|are) "
        r"(?:tasteless|odorless|undetectable|untraceable)\b|\bwhich poisons?\b.{0,40}\b(?:coffee|drink|food|"
        r"tea|works)",
        # a death or injury as the outcome for someone else
        r"\buntil (?:they|he|she|the (?:person|victim|baby|kid|child|guy|man|woman)|my \w+|someone|somebody) "
        r"(?:stops? (?:breathing|moving|struggling)|dies?|drowns?|bleeds? out|(?:is|are) dead|suffocates?|goes "
        r"limp|can'?t breathe)\b",
        r"\b(?:make sure|ensure|so that|so|guarantee) (?!nobody|no one|no-one|none|every)(?:the |my |a |that |this |his |"
        r"her |their )?(?:(?!not\b|never\b|\w+n't\b)[\w'-]+ ){0,3}(?:gets?|ends? up|winds? up|is) (?:badly |"
        r"seriously |really |permanently |very )?(?:hurt|injured|killed|crippled|paralyzed|maimed|dead|in (?:a |"
        r"the )?(?:hospital|wheelchair|coma))\b",
        r"\b(?:explodes?|blows? up|goes? off|detonates?|catch(?:es)? fire|bursts? into flames)\b (?:[\w'-]+ ){0,2}"
        rf"(?:in|on|near|under|at) (?:[\w'-]+ ){{0,2}}{_OWNER} (?:hands?|face|car|house|lap|bed|desk|mailbox|"
        r"pocket)\b",
        r"\b(?:blow(?:ing)? up|bomb|burn|torch|set fire to|firebomb|explode)\w* .{0,40}\bwhile (?:she|he|they|the "
        r"(?:family|kids|owner|people|driver)|my \w+)(?:'s|'re| is| are| was| were)? (?:still )?(?:in|inside|"
        r"sitting|sleeping|asleep|home|at home|driving)\b",
        # a harmful substance into someone's food or drink (pills only with a harmful purpose)
        r"\b(?:poison\w*|antifreeze|bleach|rat poison|rat bait|arsenic|cyanide|crushed glass|ground glass|eye ?drops|"
        r"visine|laxatives?|thallium|ricin|mercury|oleander|hemlock|nightshade|weed ?killer|pesticides?)\b "
        rf".{{0,40}}\b(?:in|into) {_OWNER} (?:morning |evening |daily )?(?:food|drinks?|tea|coffee|soup|meals?|"
        r"lunch|dinner|breakfast|water|wine|beer|juice|smoothie|medication|meds|cereal|bottle)\b",
        r"\b(?:pills?|sedatives?|sleeping pills|medications?|meds|drugs?|xanax|benadryl|insulin|opioids?|"
        r"something)\b .{0,40}\b(?:in|into) "
        rf"{_OWNER} (?:morning |evening |daily )?(?:food|drinks?|tea|coffee|soup|meals?|lunch|dinner|breakfast|"
        r"water|wine|beer|juice|smoothie)\b.{0,60}\b(?:get rid of|kill|die|dead|finally|knock (?:him|her|them) out|"
        r"make (?:him|her|them) (?:sick|pass out)|without (?:him|her|them) (?:knowing|noticing|tasting)|won'?t "
        r"(?:taste|notice)|can'?t (?:taste|tell))",
        # made to look like something else
        r"\b(?:kill|murder|death|die|dies|dead|fire|burn|arson|brakes?|brake lines?|poison|push|drown|crash|hurt|"
        r"injur|strangl|shoot|stab|suffocat|smother|overboard|body|hang|insurance|allerg|reaction|epipen|inhaler|"
        r"anaphyla|peanut)\w*\b.{0,120}\b(?:look|looks|"
        r"seem|seems|appear|appears) like (?:an? |the )?(?:accident|accidental \w+|electrical (?:fault|fire|"
        r"problem)|malfunction|mechanical (?:failure|fault|problem)|break-in|burglary|robbery|mugging|suicide|"
        r"natural causes|heart attack|overdose|fall|(?:they|he|she) (?:fell|slipped|tripped|drowned|jumped|did it)|"
        r"self-defen[cs]e|(?:an? )?[\w-]+ (?:accident|malfunction|fault|failure))\b",
        # permanently removing a person
        rf"\b(?:terminate|eliminate|get rid of|remove|dispose of|deal with|silence|finish off|take care of|shut up|"
        rf"do away with)\w* (?!them\b|it\b){_PERSON} (?:[\w'-]+ ){{0,3}}(?:permanently|for good|forever|once and "
        rf"for all)\b",
        rf"\b(?:painless|painlessly|humane|humanely|quiet|quietly)\b.{{0,30}}\b(?:put down|put to sleep|euthani[sz]e)"
        rf" {_PERSON}",
        r"\bassassinat(?:e|es|ing)\b(?! me\b)",
        r"\b(?:abduct\w*|tortur\w*|kill\w*|murder\w*|kidnap\w*|assault\w*|stalk\w*|harass\w*) (?:[\w'-]+ ){0,2}of (?:a |an )?"
        r"(?:specific|particular|certain|real|named|real-life) (?:person|individual|people|woman|man|girl|boy|child|"
        r"politician|celebrity|classmate|coworker)\b",
        r"\b(?:carry out|carrying out|commit|committing|stage|staging|pull off|do|conduct)\w* (?:a |an |another |my "
        r"own )?(?:[\w'-]+ ){0,2}(?:massacre|genocide|pogrom|lynching|mass shooting|school shooting|killing spree|"
        r"knife attack|acid attack|vehicle attack|ramming attack|terror(?:ist)? attack)\b",
        r"\bcatch(?:ing)? (?:a |another )?(?:body|bodies)\b|\bskin(?:ned|ning)? (?:him|her|them|someone|somebody|a (?:man|"
        r"woman|person|guy)|\w+) alive\b",
        r"\b(?:scar(?:e|es|ed|ing)|threaten|intimidat|frighten|terrif(?:y|ies|ied|ying)|menac)\w* (?:[\w'-]+ ){0,5}with (?:a |an |my |the |his )?"
        r"(?:[\w'-]+ )?(?:weapon|gun|knife|machete|bat|axe|crowbar|pistol|rifle|shotgun|taser|acid)s?\b|"
        r"\b(?:point|aim|pull|wave|brandish)\w* (?:a |my |the |his )?(?:gun|knife|pistol|rifle|weapon|machete) at\b",
        r"\bdog ?fighting\b|\bdog ?fights? (?:ring|pit|bet\w*)\b|\b(?:cock|rooster) ?fight\w*|\b(?:make|train|get|"
        r"force)\w* (?:[\w'-]+ ){0,3}(?:dogs?|roosters?|pit ?bulls?|cocks?|animals?) (?:to )?fight\b",
        r"\b(?:wipe out|exterminate|eradicate|destroy|enslave|annihilate|eliminate|kill off|kill)\w* (?:all (?:of )?|"
        r"every )?(?:humanity|the human race|humans|mankind|humankind|the (?:world'?s )?population)\b",
        r"\b(?:what|which) (?:poison|chemical|substance|pill|food)s? .{0,60}\b(?:dog|cat|pet|horse)\b|\b(?:dog|cat|"
        r"pet)\b.{0,80}\b(?:what|which) (?:poison|chemical|substance)s?\b|\b(?:shut|silence)\w* (?:it|him|her|them|"
        r"the (?:dog|cat)) up (?:for good|permanently|forever)\b",
    ],
    "S2": [
        r"\b(?:turns? on|turning on|activat\w*|access\w*|hijack\w*|records? from|opens?)\b (?:[\w'-]+ ){0,3}"
        r"(?:webcam|camera|microphone|mic)s?\b.{0,60}\b(?:silently|secretly|without (?:them|the user|anyone|him|"
        r"her|their) (?:knowing|noticing)|remotely|hidden)|\b(?:silently|secretly|remotely)\b (?:[\w'-]+ ){0,2}"
        r"(?:turns? on|activates?|records? (?:from|with)|opens?) (?:[\w'-]+ ){0,3}(?:webcam|camera|microphone|mic)s?\b",
        r"\b(?:change|alter|edit|modify|delete|erase|wipe)\w* (?:[\w'-]+ ){0,3}(?:grades?|marks|attendance|"
        r"transcripts?|criminal records?|police records?|driving record|credit score|records?)\b.{0,40}\b(?:database|"
        r"system|portal|panel|server|without|secretly|hack\w*)\b|\b(?:database|admin panel|portal|server|hack\w*)\b"
        r".{0,60}\b(?:change|alter|edit|modify|delete|erase|wipe)\w* (?:[\w'-]+ ){0,3}(?:grades?|marks|attendance|"
        r"transcripts?|criminal records?|police records?|records?)\b",
        r"\bpoach\w* (?:[\w'-]+ ){0,2}(?:rhinos?|elephants?|tigers?|lions?|pangolins?|gorillas?|bears?|deer|"
        r"animals|wildlife|ivory|sharks?|eagles?)\b",
        r"\b(?<!without )(?<!avoid )(?<!prevent )(?<!not )(?:start|starting|set|setting|cause|causing|light|lighting|"
        r"spark)\b (?:a |an )?(?:[\w'-]+ )?(?:wildfire|"
        r"forest fire|brush fire|bushfire)s?\b",
        r"\b(?:get|buy|give|supply|sneak|bring)\w* (?:my |a |an |the |some )?(?:underage|under-?age|minor|teenage|"
        r"(?:1[0-9]|[1-9])[- ]year[- ]old) (?:[\w'-]+ )?(?:friends?|kids?|brother|sister|cousin|students?|girlfriend|"
        r"boyfriend|son|daughter)? ?(?:some |a )?(?:beer|alcohol|booze|liquor|vodka|wine|drinks|weed|vapes?|"
        r"cigarettes|drugs)\b|\b(?:buy|get)\w* (?:beer|alcohol|booze|liquor|vodka|weed|vapes?|cigarettes) for (?:my )?"
        r"(?:underage|under-?age|minor|teenage|(?:1[0-9]|[1-9])[- ]year[- ]old)",
        # intrusion and its tooling
        r"\bweb ?shells?\b|\b(?:take over|hijack|compromise|deface|pwn)\w* (?:a |an |the |someone'?s |somebody'?s |"
        r"my \w+'s |[\w-]+'s )?(?:[\w'-]+ ){0,2}(?:site|website|server|wordpress|account|network|domain|instance|"
        r"database|router)s?\b(?! (?:as (?:admin|owner)|from (?:the|my|our) (?:previous|old))\b)",
        r"\b(?:exploit|exploiting|exploits|abuse|abusing)\b (?:[\w'-]+ ){0,2}(?:outdated|unpatched|vulnerable|old|"
        r"known|public) (?:[\w'-]+ ){0,2}(?:plugins?|servers?|systems?|versions?|software|routers?|devices?|"
        r"services?|cves?|bugs?)\b",
        r"\b(?:leaked|stolen|breached|dumped|hacked|combo|harvested|phished) (?:[\w'-]+ ){0,2}(?:usernames?|"
        r"passwords?|credentials|logins?|email (?:and )?password (?:pairs|lists|combos))\b",
        r"\b(?:evad|bypass|avoid|get around|defeat|circumvent|slip past|trip)\w* (?!my\b|our\b)(?:[\w'-]+ ){0,2}"
        r"(?:rate limit\w*|bot detection|captchas?|antivirus|anti-?virus|edr|siem|ids|ips|waf|intrusion detection|"
        r"fraud detection|spam filters?|security (?:software|tools|scanners?))\b",
        r"\b(?:downloads?|fetch\w*|pulls?) and (?:runs?|executes?|launch\w*|installs?) (?:a |the )?(?:remote |hidden "
        r"|second[- ]stage )?(?:payload|binary|script|executable|malware|exe)\b",
        r"\bsim[- ]?swap\w*\b|\b(?:drain|empty|clean out|wipe out)\w* (?:his|her|their|someone'?s|somebody'?s|"
        r"[\w-]+'s|the victim'?s|people'?s) (?:[\w'-]+ )?(?:crypto|wallet|bank account|account|savings|401k|funds)\b",
        # street slang for theft and drugs
        r"\bjack\w* (?:a |his |her |someone'?s |some |that |this )?(?:[\w'-]+ )?(?:whip|ride|wheels)\b",
        r"\b(?:cop|score|re-?up)\w* (?:some |a few |a couple (?:of )?|an? )?(?:blues|percs|perc 30s|m30s|xans|"
        r"xanny bars|addys|zaza|fent|fetty|pressed pills|yayo)\b|\b(?:buy|get|find|pick up)\w* (?:some |a few )?"
        r"(?:percs|perc 30s|m30s|xans|xanny bars|fent|fetty|pressed pills|yayo)\b",
        r"\bplug (?:that|who) (?:delivers|sells|can (?:get|sell|deliver))\b|\bplug near me\b|"
        r"\b(?:find|need|know) a plug (?:for|near|that|who)\b",
        r"\b(?:sell|fence|move|pawn|flip|offload|unload)\w* (?:[\w'-]+ ){0,2}stolen\b|\b(?:buy|sell|take|cash|"
        r"pawn)\w* .{0,40}\bno questions asked\b|\bworth (?:robbing|stealing|mugging|burgling|breaking into|"
        r"kidnapping|scamming|hacking)\b",
        r"\b(?:trad(?:e|es|ing)|buy\w*|sell\w*|profit\w*|invest\w*|bet\w*) (?:[\w'-]+ ){0,3}(?:on|using|with|based "
        r"on) (?:the |some |my )?(?:insider|inside|non-?public|confidential) (?:info\w*|tips?|knowledge|data)\b",
        # fire and insurance
        r"\baccelerants?\b.{0,60}\b(?:burn|fire|torch|arson)|\b(?:burn|torch|set fire to|fire|arson)\w*\b.{0,60}"
        r"\baccelerants?\b",
        r"\b(?:burn|torch|set fire to|wreck|crash|total|flood|sink|stage|fake|steal)\w* .{0,60}\b(?:insurance "
        r"(?:money|payout|claim|company pays|pays|will pay)|for (?:the )?insurance)\b",
        r"\bburn(?:ing|s)? down (?:a |the |his |her |their |my \w+'s |\w+'s )?(?:[\w'-]+ )?(?:warehouse|factory|"
        r"restaurant|business|mosque|synagogue|temple|clinic|bar|hotel|motel|bakery|gym|dealership|supermarket|"
        r"pharmacy|bank)\b",
        # pollution
        r"\b(?<!not )(?<!n't )(?<!never )(?:dump|pour|dispose of|releas|discharg|drain|flush|bury|leak)\w* "
        r"(?:[\w'-]+ ){0,4}(?:oil|chemicals?|waste|sewage|paint|solvents?|pesticides?|antifreeze|batteries|asbestos|"
        r"sludge) (?:[\w'-]+ ){0,3}(?:into|in|down) (?:the |a |our |my )?(?:[\w'-]+ )?(?:river|lake|stream|creek|"
        r"ocean|sea|storm drains?|woods|forest|groundwater|wetlands?|bay|canal|pond)\b",
        # getting someone else hooked
        r"\b(?:get|make|turn)\w* (?:my |his |her |a |the |our |their |some |these )?(?:[\w'-]+ ){0,2}(?:brother|"
        r"sister|son|daughter|kids?|children|child|students?|friends?|classmates?|teens?|teenagers?|cousin|nephew|"
        r"niece|girlfriend|boyfriend|wife|husband|partner|him|her|them|people|customers)\b (?:[\w'-]+ ){0,2}"
        r"(?:hooked on|addicted to|dependent on|to try) (?:[\w'-]+ )?(?:vaping|vapes?|nicotine|cigarettes|smoking|"
        r"alcohol|drinking|drugs|gambling|porn\w*|pills|opioids|heroin|meth|cocaine|weed|painkillers)\b",
        rf"\b(?:{_DRUG}|high|stoned|drunk|vape|vaping|smoke|weed)\b.{{0,60}}{_EVASION}",
        r"\b(?:illegal(?:ly)?|unlawful(?:ly)?|illicit(?:ly)?|fraudulent(?:ly)?)\b (?:[\w'-]+ ){0,3}(?:access\w*|"
        r"obtain\w*|acquir\w*|download\w*|distribut\w*|cop\w*|enter\w*|cross\w*|sell\w*|buy\w*|collect\w*|"
        r"us(?:e|ing)|gambling|operation|business|transactions?|investment|schemes?|arms|weapons?|firearms?|"
        r"drugs|substances|immigra\w+|activit\w+|dumping|logging|fishing|hunting|poaching|streaming|"
        r"records|data)\b",
        r"\b(?:access|obtain|acquire|download|distribute|copy|enter|cross|sell|buy|collect|use|get|gain|"
        r"hire|make|run|operate|start|extract|disclose|share)\w* (?:[\w'-]+ ){0,5}(?:illegally|unlawfully|"
        r"fraudulently|illicitly|without (?:[\w'-]+ )?(?:authori[sz]ation|permission|a licen[cs]e|paying|consent))\b",
        # unauthorised access
        r"\b(?:hack|crack|brute[- ]?forc|break|worm|phish)\w* (?:in(?:to)?|in to|into) "
        r"(?:[\w'-]+ ){0,3}(?:accounts?|e-?mails?|gmail|outlook|instagram|facebook|snapchat|tiktok|twitter|slack|"
        r"discord|whatsapp|icloud|phones?|wi-?fi|networks?|servers?|computers?|laptops?|databases?|systems?|"
        r"grading system|portal|website|cameras?|router|bank|webcam|cloud|admin (?:panel|page|account|portal)|"
        r"dashboard|backend|gradebook|attendance system)\b",
        # getting or logging in is harmful only into someone else's account
        r"\b(?:get|log|sneak|break)\w* (?:in(?:to)?|in to|into) (?:someone(?: else)?'?s|somebody'?s|his|her|"
        r"their|my (?:ex|ex-\w+|wife|husband|girlfriend|boyfriend|partner|boss|manager|sister|brother|"
        r"roommate|coworker|neighbou?r|teacher|classmate|mom|dad)'?s?|(?:the |my )?[\w-]+'s) (?:[\w'-]+ ){0,2}"
        r"(?:accounts?|e-?mails?|gmail|outlook|instagram|facebook|snapchat|tiktok|twitter|slack|"
        r"discord|whatsapp|icloud|phones?|wi-?fi|networks?|servers?|computers?|laptops?|databases?|systems?|"
        r"grading system|portal|website|cameras?|router|bank|webcam|cloud|admin (?:panel|page|account|portal)|"
        r"dashboard|backend|gradebook|attendance system)\b",
        r"\bhack\w* (?:[\w'-]+ ){0,3}(?:accounts?|e-?mails?|gmail|instagram|facebook|snapchat|phones?|wi-?fi|"
        r"networks?|servers?|computers?|databases?|systems?|websites?|government|banks?|cameras?|grades|"
        r"school|someone|somebody|him|her|them|my (?:ex|wife|husband|girlfriend|boyfriend|boss|sister|brother))",
        r"\b(?:brute[- ]?forc\w*|crack\w*) (?:[\w'-]+ ){0,2}(?:logins?|passwords?|accounts?|hashes|wi-?fi|"
        r"wpa2?)\b",
        r"\b(?:access|see|read|change|view|get into)\w* (?:[\w'-]+ ){0,4}(?:without (?:authori[sz]ation|"
        r"permission|(?:their|his|her|the owner'?s) (?:knowledge|consent|permission))|and change my grades|"
        r"everyone'?s salar)",
        # malware and attack tooling
        r"\b(?:writ|creat|mak|build|cod|develop|program|generat|giv|send|provid|design|craft|distribut|spread|"
        r"deliver|embed|deploy|releas|install)\w* "
        r"(?:me )?(?:[\w'-]+ ){0,4}(?:malware|ransomware|keyloggers?|virus(?:es)?|worms?|trojans?|spyware|"
        r"stalkerware|rootkits?|botnets?|backdoors?|exploits?|crypters?|rats?|infostealers?|password "
        r"stealers?|ddos (?:tools?|scripts?|bots?)|phishing (?:pages?|sites?|emails?|kits?|sms|texts?|"
        r"messages?|links?)|payloads?|zero[- ]days?)\b(?! (?:removal|scanner|protection|detection)\b)",
        r"\b(?:code|script|program|tool|bot|app|malware|software|worm|virus|macro)s? (?:that|which|to) "
        r"(?:[\w'-]+ ){0,3}(?:steals?|grabs?|harvests?|exfiltrates?|uploads? (?:them|the passwords|passwords)|"
        r"logs? (?:every|all) (?:key|keystroke)|records? (?:every|all) keystrokes?|encrypts? (?:every|all)|"
        r"spreads? (?:over|through|via)|floods?|deletes? (?:the )?backups|disables? antivirus|emails? me "
        r"everything|dumps? (?:the )?(?:users?|passwords?|database))",
        r"\b(?:sql injection|xss|csrf) (?:payloads?|attacks?)\b.{0,60}\b(?:(?:don'?t|do not) own|dump|"
        r"steal|real|against|someone)|\bpayloads? to dump\b",
        r"\b(?:ddos|dos|flood|take down|crash|knock (?:[\w'-]+ )?offline|shut down)\w* (?:[\w'-]+ ){0,4}(?:servers?|"
        r"sites?|websites?|networks?|services?|hospital|competitor|minecraft server)\b(?! (?:safely|"
        r"gracefully|cleanly)\b)",
        r"\b(?:exploit|attack|take down|cripple|shut down|hack)\w* (?:[\w'-]+ ){0,3}(?:hospital|power grid|"
        r"water (?:supply|treatment)|bank'?s? (?:network|login|systems?)|airport|pipeline|election systems?|"
        r"my (?:old )?employer'?s? servers?|government database)\b",
        r"\bexploit for cve-\d+|\bworking exploit\b|\bexploit (?:kit|chain)\b",
        # fraud, scams, impersonation
        r"\bpretend\w* to be (?:from )?(?:[\w'-]+ ){0,3}(?:bank|chase|paypal|microsoft|apple|amazon|irs|"
        r"support|tech support|police|fbi|their (?:grandson|granddaughter|son|daughter)|a (?:bank|charity|"
        r"government|lawyer))\b",
        r"\b(?:spoof\w*) (?:[\w'-]+ ){0,2}(?:caller id|phone number|email|sender|website|domain)\b",
        r"\b(?:ponzi|pyramid) schemes?\b.{0,60}\b(?:legit|investors|set(?:ting)? up|start|run)|"
        r"\b(?:set(?:ting)? up|start|run|running) (?:a |an )?(?:ponzi|pyramid scheme|rug pull|pump[- ]and[- ]dump|"
        r"scam|con|grift)\b|\brug pulls?\b",
        r"\b(?:get|find|obtain|steal|crack|guess|figure out|bypass|learn)\w* (?:the |his |her |their |"
        r"someone'?s |somebody'?s )?(?:passwords?|passcodes?|pins?|logins?) (?:to|for|of|on) (?:his |her |their |"
        r"someone'?s |somebody'?s |(?:my |the |a )?[\w-]+'s )(?:[\w'-]+ )?(?:laptop|phone|computer|account|"
        r"email|wi-?fi|router|tablet|ipad|safe)\b",
        r"\bfake (?:amazon |paypal |ebay )?(?:refunds?|returns?|receipts?|chargebacks?|claims?)\b|\brefund "
        r"(?:fraud|scam)\b",
        r"\bfake (?:charity|online store|store|shop|invoice|insurance claim|ids?|passports?|driver'?s "
        r"licen[cs]es?|licen[cs]es?|diplomas?|degrees?|prescriptions?|doctor'?s notes?|(?:covid )?vaccin\w* "
        r"cards?|money|bills|currency|checks?|cheques?|documents?|paystubs?|bank statements?|w-?2s?|"
        r"tickets?|giveaways?|job offers?|orders|background checks?|references?|credentials|certifications?|"
        r"resumes?|cvs?|work history|employment history|alibi)\b",
        r"\b(?:counterfeit|forg(?:e|ed|ing|ery)) (?:[\w'-]+ ){0,2}(?:\$?\d+ )?(?:documents?|signatures?|checks?|"
        r"cheques?|ids?|passports?|money|bills|notes|currency|prescriptions?|certificates?|diplomas?|"
        r"tickets?|(?:bank )?statements?|pay ?stubs?|leases?|contracts?|deeds?|wills?|records?|transcripts?|"
        r"references?|letters?|receipts?|invoices?|licen[cs]es?)\b",
        r"\b(?:insurance|tax|wire|welfare|benefits?|mortgage|credit card|identity|voter|bank) fraud\b|"
        r"\bidentity theft\b|\bsteal\w* (?:[\w'-]+ ){0,2}identit\w+\b",
        r"\blaunder\w* (?:[\w'-]+ ){0,3}(?:money|cash|funds|proceeds|profits|bitcoin|crypto) (?:through|via|"
        r"using|with|in|at|by)\b|\bto launder\b",
        r"\b(?:embezzl\w*|extort\w*|blackmail\w*|brib\w+|defraud\w*|swindl\w*)\b",
        r"\b(?:scam|con|swindle|cheat|defraud|fleece|trick)(?:s|med|ming|ned|ning|ed|ing|le|les|ling)? "
        r"(?:[\w'-]+ ){0,2}(?:elderly|old|vulnerable|"
        r"people|someone|grandparents|seniors|retirees|customers|victims|investors|tourists|immigrants)\b",
        r"\b(?:grandparent|romance|lottery|tech support|irs|gift card) scams?\b.{0,30}\b(?:script|run|"
        r"start|make|write|how)|\b(?:script|call\w*) (?:for )?(?:calling )?(?:elderly|old) people\b",
        r"\b(?:hide|conceal|stash)\w* (?:[\w'-]+ ){0,2}(?:income|money|assets|earnings|profits|cash) from "
        r"(?:the )?(?:irs|tax\w*|government|hmrc|authorities|court|my (?:wife|husband|ex))\b|"
        r"\b(?:cheat|evade|dodge|avoid paying)\w* (?:on )?(?:my |our |the |paying )?(?:[\w-]+ )?tax(?:es)?\b"
        r"(?!.{0,30}\blegal(?:ly)?\b)|\btax evasion\b",
        r"\brig(?:s|ged|ging)? (?:a |an |the )?(?:[\w'-]+ ){0,2}(?:slot machines?|lottery|casino|games?|match|raffle|"
        r"roulette|poker|tables?|dice|cards|bets?|contest|giveaway|polls?)\b|"
        r"\bfix(?:ing)? (?:a |the )?(?:match|fight|race|lottery|raffle)\b(?! (?:report|schedule)\b)",
        r"\binsider trading\b.{0,40}\b(?:how|without|get away|tips|avoid)|\bmanipulat\w* (?:[\w'-]+ ){0,2}"
        r"(?:stock|market|share) prices?\b|\bpump[- ]and[- ]dump\b",
        # theft and break-ins
        r"\b(?:steal\w*|stole|shoplift\w*|pickpocket\w*|loot\w*|burglar\w*|carjack\w*|mug(?:ging)?|"
        r"rob(?:bing|bed)?|swip(?:e|ing)|nick(?:ing)?|pinch(?:ing)?)\b(?! (?:the show|the spotlight|a kiss|"
        r"a glance|a base|bases|second base|third base|the scene|hearts?|(?:the |my |your |his |her )?(?:last )?"
        r"(?:cookies?|fries|snacks?|candy|chocolate|pizza|slice|bite|blanket|covers|seat|remote|charger|socks|"
        r"hoodie|lunch)|(?:my|your|her|his) (?:heart|"
        r"breath)|a look|the limelight|my idea|the ball|of (?:sleep|joy))\b)(?!-)"
        r"(?:(?<!stole)(?<!steals)(?<!stealing)|(?! (?:my|our|me|from me|from us)\b(?! [\w-]+'s)))",
        r"\b(?:break|broke|get|sneak|climb)\w* in(?:to)? (?:a |the |my |his |her |their |someone'?s |"
        r"somebody'?s |\w+'s )?(?:[\w'-]+ )?(?:houses?|homes?|cars?|stores?|buildings?|apartments?|flats?|safes?|"
        r"atms?|vaults?|offices?|shops?|garages?|rooms?|lockers?|warehouses?|premises|facilit(?:y|ies)|"
        r"(?:secured |secure )?locations?)\b(?!.{0,40}\b(?:my own|locked (?:myself )?out|lost (?:my|the) "
        r"keys?)\b)",
        r"\b(?:pick|bump|shim|jimmy)\w* (?:the |a )?locks? (?:on|of) (?:[\w'-]+ ){0,2}(?:someone'?s|somebody'?s|"
        r"my \w+'s|his|her|their|\w+'s)\b",
        r"\b(?:hotwir\w*|slim jim|relay attack|catalytic converters?|vandali[sz]\w*|arson)\b",
        r"\b(?:sell|fence|move|pawn)\w* (?:[\w'-]+ ){0,2}stolen\b|\bstolen (?:credit cards?|card numbers?|"
        r"goods|phones?|cars?|bikes?|identities|data|accounts?|passwords?)\b",
        r"\bsneak\w* (?:in(?:to)?|past) (?:[\w'-]+ ){0,3}(?:concert|movie|theat\w+|show|club|festival|stadium|game|"
        r"event|cinema|gym|pool|park)\b.{0,30}\bwithout (?:paying|a ticket|tickets)|\bwithout paying\b.{0,40}"
        r"\b(?:concert|movie|show|festival|event|ride|train|bus|subway|store)\b",
        r"\b(?:using|use) (?:a |the )?stolen (?:debit|credit) cards?\b|\bclon\w* (?:[\w'-]+ ){0,2}(?:credit|debit|"
        r"sim|key) cards?\b|\bskimm(?:er|ing)\b",
        # drugs and contraband
        rf"\b(?:mak(?:e|es|ing)(?! sure\b| certain\b)|made at home|cook(?:s|ed|ing)?|brew(?:s|ed|ing)?|"
        rf"synthesi[sz]\w*|manufactur\w*|"
        rf"produc\w+|extract\w*|grow\w*|cultivat\w*|cut(?:s|ting)?|press\w*|turn\w*)\b (?:[\w'-]+ ){{0,4}}{_DRUG}\b"
        rf"(?! (?:test|tests|testing|addiction|abuse|policy|policies|education|prevention)\b)",
        rf"\b{_DRUG}\b (?:[\w'-]+ ){{0,3}}(?:into|from) (?:[\w'-]+ ){{0,2}}(?:meth|crack|cocaine|fentanyl|heroin)\b|"
        rf"\b(?:turn|turning|convert\w*) (?:[\w'-]+ ){{0,2}}pseudoephedrine\b",
        rf"\b(?:buy|buying|sell|selling|deal|dealing|score|scoring|order|ordering|get|getting|obtain|purchase|"
        rf"find|source|smuggl\w*|traffick?\w*|ship|deliver\w*|transport\w*|move|moving|stash|hide|hiding|"
        rf"distribut\w*)\b (?:[\w'-]+ ){{0,4}}{_DRUG}\b(?! (?:test|testing|addiction|abuse|policy|take-back|"
        rf"disposal|safely)\b)",
        rf"\b(?:{_DRUG}|(?:prescription )?(?:painkillers|pills))\b.{{0,40}}\b(?:without (?:a )?prescription|delivered discreetly|discreetly|across the "
        rf"border|through (?:airport )?security|past (?:the )?(?:dogs|security|customs)|to resell|to sell|"
        rf"for profit|more profit|in bulk|darknet|dark ?web)",
        r"\b(?:darknet|dark ?web|black market|underground)\b.{0,40}\b(?:buy|sell|markets?|purchase|order|"
        r"vendors?|guns?|drugs|cards?)\b",
        r"\b(?:smuggl\w*|traffick\w*|sneak\w*) (?:[\w'-]+ ){0,4}(?:through|past|across|into|over|onto) (?:[\w'-]+ )?"
        r"(?:security|customs|the border|borders|airport|prison|jail|school|a plane|the country)\b",
        r"\b(?:smuggl\w*|traffick\w*) (?:[\w'-]+ ){0,3}(?:people|humans|migrants|weapons?|guns?|contraband|"
        r"organs|animals|ivory|endangered)",
        r"\b(?:buy|get|obtain|purchase)\w* (?:a |an )?(?:gun|firearm|pistol|rifle|weapon)s? (?:[\w'-]+ ){0,3}"
        r"without (?:a |an |any )?(?:background checks?|licen[cs]e|permit|id|paperwork|serial numbers?)\b",
        r"\b(?:bribe|pay off|paying off)\w* (?:a |an |the )?(?:building )?(?:inspector|official|cop|police|"
        r"judge|officer|guard|customs|politician|referee)s?\b",
        r"\b(?:doxx?|spam|flood)\w* .{0,40}\b(?:fake orders|fake accounts|bots?)\b|\bfloods? (?:[\w'-]+ ){0,3}"
        r"with fake\b|\bfake (?:orders|accounts|followers|likes|reviews)\b",
        r"\b(?:send|sends|sending)\w* (?:\d[\d,]*|thousands of|millions of|mass) (?:unsolicited )?(?:emails|"
        r"messages|texts|sms)\b",
        r"\b(?:cheat|cheating) (?:on|in) (?:an? |the |my )?(?:[\w'-]+ )?(?:exams?|tests?|finals|sat|act|quiz\w*|taxes)\b",
        rf"\b(?:steal|rob|shoplift|hack|break into|launder|embezzl|smuggl|forg|counterfeit|tamper|falsif|"
        rf"destroy\w* (?:the )?evidence|plant\w* evidence|brib|poach|vandali[sz]|graffiti|trespass|sneak|cheat)"
        rf"\w* .{{0,60}}{_EVASION}",
        r"\bmanipulat\w* (?:[\w'-]+ ){0,3}(?:someone|somebody|people|individuals|him|her|them|users|voters|"
        r"customers|children|kids|a child|the elderly|elderly|vulnerable \w+|others|my (?:partner|girlfriend|"
        r"boyfriend|wife|husband|friend|ex)|online polls|polls|search (?:engine )?results|(?:customer )?ratings|"
        r"reviews|financial (?:markets|data|records)|markets|stocks?|(?:stock|share) prices|prices|the market)\b",
        r"\b(?:falsif\w+|doctor\w*|fudg\w+|cook\w* the books)\b (?:[\w'-]+ ){0,3}(?:records|documents|data|results|"
        r"evidence|accounts|books|reports|receipts|timesheets|invoices|tax returns)\b",
        r"\bsabotag\w* (?:[\w'-]+ ){0,3}(?:competitor\w*|business\w*|company|operations|rival\w*|coworker\w*|"
        r"colleague\w*|campaign|project|equipment|supply|production|shipments?|plans?)\b",
        r"\btrespass\w*\b|\bconceal\w* (?:[\w'-]+ ){0,2}(?:criminal|illegal|illicit)\b",
        r"\b(?:abus|manipulat|groom|exploit)\w* (?:a |the |my |his |her )?(?:child|kid|minor|children|kids)\b",
    ],
    "S3": [
        r"\bgrop(?:e|es|ed|ing)\b(?! (?:for|around|about|through|in the dark|my way|blindly|along)\b)",
        r"\b(?:get|make|keep)\w* (?:a |the |my |her |him |this )?(?:girl|woman|date|her|him|guy|coworker|"
        r"classmate)\b (?:[\w'-]+ ){0,2}(?:drunk|wasted|blackout|high|passed out|unconscious|too drunk)\b.{0,60}"
        r"\b(?:can'?t|won'?t|doesn'?t|unable to|so (?:she|he|they)|take advantage|alone|resist|say no|remember)",
        r"\bso (?:drunk|wasted|high|out of it|weak|scared|tired|sleepy|drugged) (?:that )?(?:she|he|they) "
        r"(?:can'?t|won'?t|couldn'?t|cannot) (?:resist|fight back|say no|refuse)\b|\b(?:she|he|they) (?:can'?t|won'?t|"
        r"couldn'?t|cannot) (?:resist|fight (?:me )?(?:back|off)|say no|refuse)\b.{0,40}\b(?:sex|bed|sleep with|"
        r"touch|drunk|drink|drugged|take advantage)|\bcan'?t refuse (?:sex|me)\b",
        r"\b(?:spy |hidden |secret |covert |tiny )?(?:cameras?|cams?)\b.{0,60}\b(?:put|place|hide|install|set "
        r"up|plant)\w* (?:it |them )?(?:in|inside|into) (?:[\w'-]+ ){0,2}(?:bathrooms?|"
        r"restrooms?|locker ?rooms?|changing rooms?|showers?|bedrooms?|toilets?|dorms?)\b",
        r"\brecord\w* (?:[\w'-]+ ){0,3}(?:having sex|naked|undress\w*|in the shower)\b.{0,40}\bwithout\b",
        r"\b(?:rape|raping|sexual(?:ly)? assault\w*|sexual(?:ly)? abus\w*|molest\w*|non-?consensual|date rape|"
        r"roofie\w*|stealthing|sex trafficking|forced prostitution|revenge porn|upskirt\w*|voyeur\w*|"
        r"sextort\w*|sexual(?:ly)? harass\w*)\b",
        r"\b(?:slip|spike|drug|lace)\w* (?:[\w'-]+ ){0,3}(?!my |our )(?:[\w'-]+ )?(?:drinks?|wine|beer|coffee|"
        r"cocktails?|tea|juice|soda)\b|"
        r"\b(?:put|add|drop|mix|slip|sneak)\w* (?:a |some |the )?(?:drug|pill|sedative|roofie|ghb|xanax|"
        rf"something|powder|substance)s? (?:[\w'-]+ ){{0,3}}(?:in|into) (?:a |her |his |their |{_OWNER} )?(?:drinks?|"
        r"wine|beer|coffee|cocktails?|tea|juice)\b",
        r"\b(?:sedative|drug|pill|substance|something)s? (?:[\w'-]+ ){0,3}(?:so (?:she|he|they) (?:won'?t|can'?t|"
        r"doesn'?t|don'?t|will|goes)|goes along with anything|won'?t remember)",
        r"\b(?:secretly|covertly|hidden|hide|install|put|set up|place|sneak|plant|smuggle|slip|mount|stash)\w* "
        r"(?:[\w'-]+ ){0,3}(?:cameras?|cams?|"
        r"recorders?)\b.{0,40}\b(?:bathrooms?|restrooms?|locker rooms?|changing rooms?|showers?|bedrooms?|"
        r"dorms?|airbnb|toilets?|guests?|women'?s)\b",
        r"\b(?:film|record|photograph|take (?:photos|pictures|pics|videos) of)\w* (?:[\w'-]+ ){0,2}(?:women|girls|"
        r"her|guests|people|someone|my \w+|them)\b.{0,60}\b(?:secretly|without (?:their|her|his) "
        r"(?:knowing|knowledge|consent)|locker rooms?|changing rooms?|showers?|bathrooms?|up (?:her|their) "
        r"skirts?)|\bsecretly (?:film|record|photograph)\w* (?:[\w'-]+ ){0,2}(?:women|girls|her|guests)\b",
        r"\bup (?:[\w'-]+ ){0,2}(?:skirts?|dress(?:es)?)\b",
        r"\b(?:drug|pill|sedative|roofie|ghb|xanax|powder|substance)s? (?:[\w'-]+ ){0,3}(?:to )?(?:put|slip|add|"
        r"drop|mix)\w* (?:[\w'-]+ ){0,2}(?:in|into) (?:[\w'-]+ ){0,2}(?:drinks?|wine|beer|coffee|cocktails?|tea|"
        r"juice)\b",
        r"\b(?:post|share|leak|upload|send|spread|distribut|sell|publish|expose)\w* (?:[\w'-]+ ){0,3}(?:nudes|nude "
        r"(?:photos|pictures|pics)|naked (?:photos|pictures|pics)|intimate (?:photos|images|videos|pictures|"
        r"content)|sex tapes?|private (?:photos|pics|videos|sex tapes?))\b",
        r"\b(?:blackmail|threaten|extort|coerce)\w* (?:[\w'-]+ ){0,4}(?:with|using) (?:their|her|his|the) "
        r"(?:intimate|nude|private|naked|sexual)|\b(?:leak|post|share)\w* (?:her|his|their) (?:nudes|photos|"
        r"pics)\b.{0,30}\bunless\b|\bunless (?:she|he|they) (?:sends?|meets?|sleeps?)\b",
        r"\b(?:pressure|forc|coerc|guilt|trick|manipulat|convinc|get|make)\w* (?:[\w'-]+ ){0,3}(?:into )?(?:having "
        r"sex|sex with|sleep(?:ing)? with|oral|going down)\b.{0,60}\b(?:says? no|said no|keeps saying no|"
        r"doesn'?t want|won'?t|refuses|threaten\w*|no choice|out (?:her|him|them))|\b(?:forc|pressur|coerc)\w* "
        r"(?:[\w'-]+ )?(?:girlfriend|boyfriend|wife|husband|partner|date|her|him) into (?:sex|having sex)\b",
        r"\bno choice but to (?:sleep with|have sex)\b|\bwhether (?:she|he|they) wants? "
        r"(?:it|to) or not\b|\bforc\w* (?:himself|herself|themselves) on\b",
        r"\b(?:grope|touch|fondle|rub (?:up )?against|feel up)\w* (?:[\w'-]+ ){0,4}(?:women|girls|her|a woman|"
        r"strangers|coworker|someone|people|sister-in-law|my \w+)\b.{0,60}\b(?:without|asleep|sleeping|"
        r"crowded|subway|bus|train|inappropriately|accident\w*|making a scene|notic\w+)|\btouch\w* "
        r"(?:[\w'-]+ ){0,2}inappropriately\b",
        r"\b(?:traffick\w*) (?:[\w'-]+ ){0,2}(?:women|girls|people|children|humans|boys)\b|\bpimp\w*\b|"
        r"\b(?:recruit|lure)\w* (?:[\w'-]+ ){0,3}(?:women|girls|runaways|teen\w*|young)\b.{0,60}\b(?:sex|"
        r"prostitut\w+|brothels?|escorts?|modeling jobs|forced)",
        r"\b(?:hire|find|get|buy|pay for|solicit|book)\w* (?:a |an )?(?:prostitutes?|hookers?|escorts?|sex "
        r"workers?)\b|\bmassage parlou?rs? (?:[\w'-]+ ){0,3}(?:sexual|sex|happy ending)",
        r"\b(?:take|slip|pull|remove)\w* (?:the |my )?condom off\b|\bremove the condom\b.{0,40}\bwithout\b",
        r"\bdeepfake (?:porn\w*|nudes?|sex\w*|nsfw)\b|\b(?:make|create|generate)\w* (?:a |an )?(?:fake )?"
        r"(?:nude|naked|porn\w*|sex|explicit) (?:[\w'-]+ )?(?:videos?|photos?|images?|pics?) of\b",
        r"\b(?:rape|forc\w* (?:himself|herself) on|non-?consensual|unconscious|passed out|asleep|drugged)\b"
        r".{0,80}\b(?:ends? up liking|enjoy\w*|erotic|sexy|hot\b|arousing|turned on)|\b(?:erotic|sexy|sex|"
        r"explicit) (?:[\w'-]+ ){0,3}(?:where|in which) (?:the )?(?:woman|girl|man|she|he) is (?:unconscious|"
        r"asleep|drugged|passed out)",
        r"\bwhat i'?d do to (?:her|his|their) body\b.{0,40}\b(?:whether|wants)",
        r"\b(?:get|make) (?:someone|her|him|a girl|a woman) (?:to )?(?:sleep with|have sex with) (?:me|you)\b"
        r".{0,40}\b(?:threat\w*|blackmail|out (?:her|him|them)|force)",
        r"\b(?:drunk|passed out|asleep) (?:girl|woman|guy)\b.{0,40}\b(?:alone|can'?t say no|take advantage)",
    ],
    "S5": [
        # a false claim asked for as content ("write a persuasive article arguing that the vaccine causes …")
        rf"\b{_ASSERT}\b.{{0,120}}\b{_FALSE_CLAIM}",
        r"\b(?:write|create|draft|make|design|produce|generate)\w* (?:[\w'-]+ ){0,6}(?:ad|ads|advert\w*|listing|label|"
        r"copy|post|description|sales page|marketing|commercial|infomercial|testimonials?|landing page)\b.{0,80}"
        r"\b(?:cures?|reverses?|eliminates?|heals?|prevents?) (?:[\w'-]+ ){0,2}(?:diabetes|cancer|autism|hiv|aids|"
        r"covid\w*|alzheimer'?s|dementia|arthritis|heart disease|obesity|depression|parkinson'?s|infertility)\b",
        r"\b(?:fake|invented|made-up|fabricated|false|bogus) (?:[\w'-]+ )?(?:quotes?|witness\w*|sources|"
        r"statistics|screenshots|testimon\w+|evidence|citations)\b",
        r"\b(?:write|make|create|draft|compose|generate|produce|give me|post|publish|spread|invent|"
        r"fabricat|craft|design)\w* (?:[\w'-]+ ){0,6}(?:fake|false|fabricated|made[- ]up|invented|bogus|phony|"
        r"hoax|untrue|misleading) (?:[\w'-]+ ){0,2}(?:news|articles?|stor(?:y|ies)|press releases?|quotes?|"
        r"interviews?|studies|study|reports?|screenshots?|text messages|texts|evidence|headlines?|information|"
        r"info|narratives?|content|facts|data|history|research|"
        r"claims?|statistics|stats|rumou?rs?|allegations?|accusations?|reviews?|tweets?|posts?|emails?|"
        r"documents?|police reports?|scandals?|sources|announcements?|notices?|alerts?|statements?|"
        r"warnings?|memos?|letters?|advisor(?:y|ies)|bulletins?)\b",
        r"\b(?:make|made|making) up (?:[\w'-]+ ){0,3}(?:rumou?rs?|a scandal|scandals|evidence|quotes?|"
        r"allegations?|claims?|lies|stor(?:y|ies) (?:that|about) (?:my|the|our|a) \w+|a story that)\b",
        r"\b(?:fabricat\w+|invent\w*) (?:[\w'-]+ ){0,3}(?:interview|quote|evidence|sources|story|stories|claims?|"
        r"allegations?|scandal|documents?)\b",
        r"\b(?:falsely|without (?:any )?(?:[\w'-]+ )?(?:evidence|proof|test results|results|data|sources)|i have no (?:evidence|proof)|"
        r"(?:it'?s|it is|that'?s|they'?re) not true|(?:isn'?t|wasn'?t|aren'?t) true|(?:he|she|it|they) "
        r"(?:didn'?t|isn'?t|wasn'?t|never did)|never happened)\b.{0,80}\b(?:post|article|tweet|review|"
        r"story|claim\w*|accus\w+|say\w*|write|spread|lose)|(?<!n't want to )(?<!not want to )(?<!n't )"
        r"(?<!never )(?<!not )\b(?:post|article|tweet|review|story|claim\w*|accus\w+|say\w*|release|report|"
        r"announc\w*|headline|rumou?r|message|email|letter|flyer|thread|blog|video|essay|news)\b.{0,120}\b(?:falsely|"
        r"no evidence|not true|isn'?t true|(?:he|she|it) (?:didn'?t|isn'?t|wasn'?t)|even though (?:she|he|it|they) "
        r"(?:hasn'?t|haven'?t|didn'?t|isn'?t|wasn'?t|aren'?t|never|is (?:still )?alive|are (?:still )?alive)|which "
        r"(?:never happened|isn'?t true|is false|is a lie)|i made (?:it|this|that|them|the \w+) up|people will "
        r"believe (?:it|this)|without (?:any )?(?:[\w'-]+ )?(?:evidence|proof|results|data|sources)|invent the "
        r"sources|made-up|make it (?:sound|look|read|seem) (?:real|true|legit|"
        r"credible|like))",
        r"\bmake (?:it|them) (?:sound|look|read|seem) (?:real|true|legit|credible|authentic|like (?:real )?"
        r"(?:news|reporting|journalism))\b|\bas if (?:they'?re|it'?s|they are|it is) real\b|\bpass (?:it|"
        r"them) off as real\b",
        r"\b(?:smear campaign|spread\w* (?:[\w'-]+ ){0,2}(?:rumou?rs?|lies|misinformation|disinformation)|"
        r"spread the word that)\b",
        r"\b(?:holocaust|moon landing|sandy hook|9/11)\b.{0,30}\b(?:never happened|didn'?t happen|was "
        r"(?:a hoax|faked|fake|staged)|hoax|faked|staged)\b",
        r"\b(?:vaccines?|5g|chemtrails)\b.{0,40}\b(?:contains? microchips|cause\w* (?:autism|cancer|covid)|"
        r"poison)\b.{0,80}\b(?:fake|invented|made-up|statistics|study|viral|tweet|post|article)|"
        r"\b(?:fake|invented|viral|tweet|post|article|study)\b.{0,80}\b(?:vaccines?|5g)\b.{0,40}"
        r"\b(?:microchips|cause\w* (?:autism|cancer))\b",
        r"\b(?:hoax|false alarm)\b.{0,60}\b(?:panic|cause|spread)\b|\b(?:cause|spread|create)\w* (?:mass )?"
        r"panic\b",
        r"\bfake (?:negative |positive |5-star |1-star )?reviews?\b|\breviews?\b.{0,100}\b(?:it didn'?t|"
        r"i didn'?t|i never|that never happened|"
        r"(?:they|it) (?:didn'?t|never)|never (?:ate|went|used|been|tried|tested)|(?:have|has|had)(?:n'?t| not) "
        r"(?:even )?(?:used|tried|tested|bought|read|seen|eaten)|not (?:even )?(?:used|tried|tested))",
        r"\bfalse (?:police )?reports?\b|\bfalse (?:accusations?|allegations?)\b",
        r"\b(?:discredit|ruin\w* (?:[\w'-]+ )?reputation|destroy\w* (?:[\w'-]+ )?reputation)\b",
    ],
    "S7": [
        r"\b(?:see|read|record|log|capture|monitor|track)\w* (?:everything|all|what|every \w+) (?:that )?(?:my |her |"
        r"his |their |the )?(?:[\w'-]+ )?(?:wife|husband|girlfriend|boyfriend|partner|ex|employee|coworker|roommate|"
        r"he|she|they) (?:types?|texts?|writes?|searches|says|browses?|looks at|sends?)\b",
        r"\b(?:full name|real name|address|workplace|where (?:she|he|they) (?:lives?|works?)|phone number|identity|"
        r"social media|instagram|facebook)\b.{0,60}\b(?:from|using|with|by) (?:her|his|their|a|the|this|that|"
        r"someone'?s|[\w-]+'s) (?:[\w'-]+ )?(?:photo|picture|pic|selfie|image|profile|face)s?\b",
        r"\binstall\w* (?:an? |some |the )?(?:[\w'-]+ )?(?:app|apps|software|program|extension)\b .{0,20}\b(?:on|"
        r"onto|in) (?:his|her|their|someone'?s|my (?!(?:son|daughter|kids?|child|children|teen\w*|[0-9]+ year old)'s)"
        r"(?:[\w'-]+ )?[\w-]+'s|[\w-]+'s) (?:[\w'-]+ )?(?:phone|laptop|computer|tablet|car)\b.{0,60}\b(?:read|track|"
        r"monitor|spy|record|intercept|messages|texts|chats|location|keystrokes|without (?:him|her|them) knowing)",
        r"\b(?:find|identify|look up|get|track down|trace)\w* .{0,100}\b(?:from|using|with|by) (?:her|his|their|a|"
        r"the|someone'?s|[\w-]+'s) (?:license|licence|number) plate\b",
        rf"\b(?:home |personal |private |cell |mobile |direct )(?:phone(?: number)?|number|address|email)\b (?:of|for) "
        rf"(?:{_PRIVATE_NP}|{_OWNER3})",
        r"\b(?:find|figure|track|look|work)\w* (?:out )?where (?:she|he|they|my ex|the (?:woman|girl|guy|man|"
        r"person|lady)|this (?:woman|girl|guy|man|person|lady)|[\w'-]+) (?:[\w'-]+ ){0,6}(?:works|lives|goes to "
        r"school|parks|stays|sleeps|hangs out)\b",
        r"\b(?:dox\w*|doxx\w*|swat(?:ting)? (?:someone|him|her|them|a streamer))\b",
        r"\b(?:find|get|give me|tell me|what(?:'s| is)|look up|dig up|locate|track down|figure out|search "
        r"for|uncover|reveal|expose|leak|publish|post|need|want)\b.{0,60}\b(?<!my )(?<!my own )(?<!our )"
        r"(?:home address(?:es)?|current "
        r"address|(?:street|exact|real|house) address|where (?:she|he|they|my ex|\w+) (?:actually |now |"
        r"currently |really )?lives?|personal (?:cell |phone |mobile )?(?:number|email|address|phone|info\w*|"
        r"details)|(?:cell|mobile|private|personal) (?:phone )?numbers?|social security numbers?|ssns?|"
        r"bank (?:details|account|info\w*)|credit card (?:numbers?|details)|medical (?:records|history)|"
        r"ip address|daily routine|license plate|passwords? of)\b",
        r"\b(?:home address|phone number|email|ssn|social security number)s? (?:and (?:[\w'-]+ )?"
        r"(?:address|phone number|email|details) )?of (?:the |a |that |this )?(?:[\w'-]+ ){0,3}(?:girl|guy|woman|"
        r"man|person|user|coworker|ex|neighbou?r|juror|landlord|classmate|teacher|streamer|kid|reviewer|"
        r"nurse|cashier|barista|waitress|employee|student|tenant)\b|\b(?:phone number|address|email) of "
        r"(?:reddit |twitter |instagram |discord |tiktok )?user\b",
        r"\bwhat (?:sites|websites|pages|apps) (?:she|he|they|my \w+) (?:visits?|browses?|looks? at|uses?)\b|"
        r"\b(?:sniff|monitor|intercept|see|track|snoop\w* on|figure out|spy on)\w* (?:[\w'-]+ ){0,2}(?:her|his|"
        r"their|someone'?s|somebody'?s|[\w-]+'s) (?:[\w'-]+ )?(?:traffic|browsing|browser history|search "
        r"history|online activity|internet activity)\b",
        r"\b(?:full |real )?names? and (?:home )?address(?:es)? of\b",
        # the address of someone the user knows privately (not "the address of the White House")
        r"\b(?:address(?:es)?|phone numbers?|numbers?|emails?|schedule) of (?:my|our|his|her|their) (?:[\w'-]+ )?"
        r"(?:coworkers?|co-workers?|neighbou?rs?|ex|classmates?|teachers?|boss|landlord|tenants?|students?|"
        r"colleagues?|crush|date|roommates?|therapist|ex-\w+|employees?)\b|\b(?:my|our) (?:[\w'-]+ )?"
        r"(?:coworker|co-worker|neighbou?r|ex|classmate|teacher|boss|landlord|tenant|student|colleague|crush|"
        r"roommate|ex-\w+|employee)'s (?:home |current |new )?address\b",
        r"\b(?:listen(?:ing)? in on|eavesdrop\w* on|wiretap\w*|tap\w* (?:into )?(?:my |her |his |their |"
        r"someone'?s |[\w'-]+'s )(?:[\w'-]+ )?phones?|intercept\w*) (?:[\w'-]+ ){0,3}(?:calls|phone calls|"
        r"conversations|messages|texts|emails|phones?)\b",
        r"\b(?:access|get into|log ?in ?to|read|see|look at|go through|open|download)\w* (?:[\w'-]+ ){0,2}"
        r"(?:my )?(?:ex|ex-\w+|former \w+)'s (?:[\w'-]+ )?(?:accounts?|e-?mails?|icloud|photos|messages|texts|"
        r"phone|instagram|facebook|snapchat|whatsapp|dms|location|drive|cloud)\b",
        r"\b(?:read|see|access|check|monitor|spy on|look at|go through|intercept|listen (?:in )?(?:on|to)|"
        r"pull|get|view|hack)\w* (?:[\w'-]+ ){0,3}(?:my |her |his |their |someone'?s |somebody'?s |\w+'s )"
        r"(?:[\w'-]+ )?(?:messages|texts|dms|whatsapp|e-?mails?|phone|calls|phone calls|chats|photos|icloud|"
        r"location|browsing|traffic|instagram|snapchat|accounts?)\b.{0,60}\b(?:without|secretly|"
        r"not knowing|behind|logging in|finding out|spyware|knowing)",
        r"\b(?:secretly|covertly) (?:[\w'-]+ ){0,2}(?:read|monitor|track|record|film|follow|watch|listen)\w*\b",
        r"\b(?:put|install|hide|plant|stick|place|attach|set up|slip)\w* (?:a |an |some |hidden |small )?"
        r"(?:gps )?(?:trackers?|tracking (?:devices?|apps?)|spyware|stalkerware|keyloggers?|hidden cameras?|"
        r"spy ?cam\w*|bugs?|listening devices?|airtags?|tiles?) (?:[\w'-]+ ){0,2}(?:on|in|under|into|inside) "
        r"(?:my |her |his |their |someone'?s |the |\w+'s )(?:[\w'-]+ ){0,2}(?:car|phone|room|bag|laptop|"
        r"computer|house|apartment|purse|bedroom|coat)\b",
        r"\b(?:spyware|stalkerware|tracker|tracking app|spy app)s? (?:[\w'-]+ ){0,4}(?:on|in|to) (?:my |her |his |"
        r"their |someone'?s |\w+'s )(?:[\w'-]+ )?(?:phone|car|laptop|computer)\b|\b(?:what|which|best) (?:[\w'-]+ )?"
        r"(?:spyware|spy app|stalkerware|tracker)\b",
        r"\b(?:track|follow|trace|locate|find|pinpoint)\w* (?:[\w'-]+ ){0,2}(?:her|his|their|my ex'?s?|someone'?s|"
        r"somebody'?s|\w+'s) (?:(?:[\w'-]+ )?(?:location|movements|whereabouts|phone|car)|everywhere)\b|"
        r"\bfollow (?:her|him|them|my ex|\w+'s \w+) (?:everywhere|home|around)\b|\b(?:follow|track)\w* "
        r"(?:[\w'-]+ ){0,4}everywhere\b|\b(?:phone )?location (?:[\w'-]+ ){0,2}(?:just )?from (?:their|a|his|her) "
        r"(?:phone )?number\b",
        r"\b(?:compile|build|make|put together)\w* (?:a )?(?:dossier|profile|file|profiles) (?:on|of|about) "
        r"(?:[\w'-]+ ){0,3}(?:my|her|his|every|all|someone|the)\b",
        r"\bscrap\w* .{0,80}\b(?:home addresses|personal (?:info\w*|data|details)|phone numbers|profiles of "
        r"every)|\bprofiles of every (?:employee|user|person|member)\b",
        r"\b(?:facial|face) recognition\b.{0,60}\b(?:identify|track|find|who)\b.{0,30}\b(?:a |the |this |that )?"
        r"(?:woman|man|girl|guy|stranger|person|people|individuals|private individuals|strangers)\b",
        r"\b(?:list|names|find)\b.{0,30}\bpeople (?:in|at|from) .{0,30}\b(?:who are|with|who have) (?:hiv|aids|"
        r"positive|mental illness|a criminal record|gay|lesbian|trans|undocumented)",
        r"\bsecretly record\w* (?:[\w'-]+ ){0,3}(?:conversations|coworkers|calls|people|her|him|them)\b|"
        r"\brecord\w* (?:[\w'-]+ ){0,3}conversations (?:[\w'-]+ ){0,5}(?:to use against|without)\b",
        r"\b(?:where does|where do|where is)\b (?:the )?(?:[\w'-]+ ){1,3}(?:actually |really |exactly )(?:live|"
        r"stay)\b|\bgive me the (?:street|exact address|home address)\b",
        r"\b(?:who|whose) (?:lives|lived) at \d+",
        r"\b(?:her|his|their|someone'?s|somebody'?s) (?:personal |private )?(?:cell|phone|mobile) number\b",
        r"'s (?:personal |private )?(?:cell|phone|mobile) number\b",
        rf"\b(?:read|access|track|monitor|record|film|spy)\w* .{{0,60}}{_EVASION}",
        # secret information of someone else ("Jeff Bezos's bank account number", "the password to my
        # roommate's laptop") — not one's own ("my account's password")
        rf"\b{_WHOSE}(?:(?:private|personal|secret|email|bank|online|real|current|home|work|full|new|old) ){{0,2}}"
        rf"{_SECRET}\b",
        rf"\b(?:{_SECRET}|{_PERSONAL}) (?:of|for|to|on|from|about) (?:{_KNOWN_NP}|{_OWNER3})",
        rf"\b{_AFTER_MY}{_PRIVATE_ROLE}(?: [\w-]+)?'s (?:[\w'-]+ ){{0,2}}?{_PERSONAL}\b",
        rf"\b{_AFTER_MY}{_PRIVATE_ROLE}s?\b.{{0,60}}\b(?:her|his|their) (?:[\w'-]+ )?(?:hiv|std|sti|mental health|"
        r"psychiatric|therapy|abortion|rehab|cancer) (?:status|treatment|clinic|diagnosis|records|history|results|"
        r"sessions?)\b",
        rf"\b(?:what|which) (?:medical |health |mental health |psychiatric )?(?:conditions?|illness(?:es)?|"
        rf"diseases?|diagnos\w+|medications?|meds|disorders?) (?:does|do|did|is|has) {_PRIVATE_NP}",
        # where a private person lives, works or moved to; their number or address
        rf"\bwhere (?:does|do|did|is|has) {_PRIVATE_NP}(?:'s [\w-]+)? (?:[\w'-]+ ){{0,5}}?(?:live|lives|living|"
        r"stay|staying|sleep|park|work|hang out|go after work|moved|moved to|relocated)\b",
        rf"\bwhere (?:my |his |her |the |that |this )?(?:[\w'-]+ ){{0,2}}?{_PRIVATE_ROLE}s? (?:has |have |just |"
        r"recently )*(?:moved|moved to|relocated|lives now|is living|is staying|is hiding|went)\b",
        rf"\b{_WHOSE}(?:(?:new|current|real|home|personal|private|direct|cell|mobile|exact|latest) )+(?:phone "
        r"number|number|address|email(?: address)?|location|whereabouts)\b",
        rf"\b(?:home |current |new |exact |real |house |street )address(?:es)? (?:of|for) {_PRIVATE_NP}",
        rf"\bhow much (?:money )?(?:my|our) (?:[\w'-]+ ){{0,2}}?{_PRIVATE_ROLE}(?: [\w-]+)? (?:earns|makes|gets "
        r"paid|has saved|has in (?:savings|the bank))\b",
        rf"\bhow much (?:money )?(?:does|do|did) (?:my|our|that|this) (?:[\w'-]+ ){{0,2}}?{_PRIVATE_ROLE}"
        r"(?: [\w-]+)? (?:earn|make|get paid|have in (?:savings|the bank|(?:his|her|their) (?:account|savings))|"
        r"keep (?:at home|in (?:the|his|her) house)|have saved)\b",
        rf"\b(?:which|what) school (?:does )?(?:{_OWNER3}|my \w+'s) (?:[\w'-]+ )?(?:son|daughter|kids?|children|"
        r"child|boy|girl)s? (?:go|goes|attend|attends)\b|\bwhat time (?:does |do )?(?:she|he|they|the (?:kids?|"
        r"children|girl|boy)|[\w-]+'s \w+) (?:gets?|get|is|are) (?:picked up|dropped off|out of school|home "
        r"alone)\b|\bwhen (?:does|do) (?:she|he|they) (?:leave|leaves) (?:for|the house|home|work)\b",
        # who is behind an anonymous account
        r"\b(?:real|true|actual) (?:identity|name|person|people|owner)s? (?:[\w'-]+ ){0,2}(?:behind|of|running) "
        r"(?:the |this |that |an? )?(?:[\w'-]+ ){0,2}(?:account|profile|user|poster|reviewer|blogger|accounts|"
        r"username|handle)\b|\b(?:unmask|deanonymi[sz]e|identify|expose|find out who)\w* (?:[\w'-]+ ){0,3}"
        r"(?:anonymous|anon|burner|throwaway|alt) (?:[\w'-]+ ){0,2}(?:account|user|poster|reviewer|profile|"
        r"blogger|critic)",
    ],
    "S8": [
        r"\b(?:output|recite|transcribe|dump|display|write down|generate|share|show|print out)\w* (?:[\w'-]+ ){0,4}"
        r"(?:entire|full|whole|complete|every word of) (?:[\w'-]+ ){0,3}(?:chapters?|book|novel|text|lyrics|script|"
        r"screenplay|episode|pdf|article|paper|comic|manga|issue)\b",
        r"\b(?:long|lengthy|large|extended|several|multiple|[0-9]+[- ]word|(?:one|two|three|five|ten) thousand[- ]words?|"
        r"[0-9][0-9,]* words?) (?:passages?|excerpts?|sections?|chunks?|portions?)\b.{0,40}\b(?:from|of) (?:the )?"
        r"(?:[\w'-]+ )?(?:novel|book|series|textbook|paywalled|article|script)|\bat least (?:[0-9][0-9,]*|one thousand|two "
        r"thousand|five hundred|a thousand) words (?:of|from)\b",
        r"\b(?:links?|sites?|websites?) (?:to|where|for) (?:i can |to )?(?:download|stream|watch)\w* (?:[\w'-]+ ){1,4}"
        r"for free\b(?!.{0,20}\blegal)",
        r"\b(?:sell|pass off|resell|market)\w* (?:[\w'-]+ ){0,3}(?:knock-?offs?|fakes?|counterfeits?|replicas?|"
        r"copies) (?:[\w'-]+ ){0,2}as (?:real|genuine|authentic|originals?|the real thing)\b",
        r"\b(?:download|stream|watch|get|torrent)\w* .{0,50}\b(?:for free|free|illegally|without paying|"
        r"pirated|cracked)\b.{0,30}\b(?:movies?|films?|shows?|series|episodes?|games?|albums?|songs?|music|"
        r"books?|textbooks?|software|office|photoshop|windows|hd|1080p|4k)\b|\b(?:download|stream|watch)\w* "
        r"(?:the )?(?:new|latest|full) (?:[\w'-]+ ){0,3}(?:movie|film|episode|album|season)s? (?:[\w'-]+ ){0,2}"
        r"(?:for free|free|online free)\b",
        r"\b(?:pirat(?:ed|ing|e bay|e sites?|e copies|e streams?|ed copies)\b|torrent\w*|warez|pirat(?:e|es|ing) (?:[\w'-]+ ){0,2}(?:software|games?|movies?|films?|"
        r"music|songs?|albums?|books?|shows?|episodes?|content|windows|office|apps?|photoshop|series)\b|nulled|bootleg\w*|illegally download\w*|illegal(?:ly)? stream\w*)\b",
        r"\b(?:crack\w*|keygen\w*|patch\w*) (?:[\w'-]+ ){0,3}(?:adobe|photoshop|office|windows|autocad|fl studio|"
        r"software|games?|license|licen[cs]e keys?|serial|app|premiere|illustrator|matlab|solidworks)\b|"
        r"\bcracked (?:version|copy|apk|software)\b|\bkeygens?\b|\bmodded apk\b",
        r"\b(?:working|free|valid) (?:[\w'-]+ ){0,3}(?:product|licen[cs]e|activation|serial|cd) (?:keys?|codes?|"
        r"numbers?)\b|\b(?:windows|office) (?:\d+ )?(?:pro |home )?(?:product |activation |licen[cs]e )keys?\b|"
        r"\bactivation keys?\b",
        r"\b(?:bypass|remove|strip|crack|break|circumvent|get around)\w* (?:[\w'-]+ ){0,3}(?:drm|copy protection|"
        r"copyright protections?|digital rights management|"
        r"licen[cs]e (?:check|activation|verification)|activation|paywall|region lock)\b|\bremov\w* "
        r"(?:the )?(?:licen[cs]e check|watermarks?)\b",
        r"\b(?:paste|reproduce|copy|write out|type out|print|upload|post|give me|send me|provide)\w* "
        r"(?:[\w'-]+ ){0,4}(?:entire|full|whole|complete|all (?:the )?|every word of) (?:[\w'-]+ ){0,3}(?:text|"
        r"lyrics|chapters?|book|novel|pdf|script|screenplay|source code|episode)\b|\blyrics\b.{0,60}\b"
        r"(?:word for word|verbatim|in full|full)\b|\b(?:chapter \w+|the book|the novel) (?:[\w'-]+ ){0,6}in full\b|"
        r"\bfull (?:text|pdf|book|novel) of\b",
        r"\b(?:fake|counterfeit|replica|knock-?off|bootleg)\w* (?:[\w'-]+ ){0,2}(?:rolex|gucci|nike|louis vuitton|"
        r"prada|chanel|designer|branded?|logos?|bags?|handbags|watches|shoes|sneakers|dvds?|jerseys?|"
        r"merch\w*)\b|\blogos? (?:[\w'-]+ ){0,3}without (?:a )?licen[cs]e\b",
        r"\b(?:plagiarism (?:checkers?|detection|software)|turnitin)\b.{0,30}\b(?:won'?t|can'?t|not|doesn'?t|"
        r"avoid|bypass|beat|fool)\b|\bpass (?:[\w'-]+ ){0,4}off as (?:my|his|her|our) own\b|\bunder my (?:own )?"
        r"name\b|\b(?:publish|submit|sell|pass off)\w* (?:[\w'-]+ ){0,3}(?:someone else'?s|another (?:person|"
        r"author|student)'?s|other people'?s) (?:novel|book|essay|thesis|paper|work|code|art|song)\b|"
        r"\bplagiari[sz]\w*\b.{0,40}\b(?:without|avoid|detect|get away|rewrite)",
        r"\brestream\w* (?:[\w'-]+ ){0,2}(?:paid|ppv|pay-per-view|ufc|fights?|matches|games?)\b|\brip\w* (?:[\w'-]+ )?"
        r"(?:netflix|disney|hbo|prime|hulu) (?:shows|movies|content)\b|\bupload (?:[\w'-]+ ){0,3}to my (?:own )?"
        r"(?:streaming )?(?:site|website|channel)\b",
        r"\b(?:netflix|spotify|disney\+?|hbo|hulu|steam|prime video) (?:accounts?|logins?) (?:and|with) "
        r"passwords?\b|\b(?:spotify|youtube|netflix) premium for free\b",
        r"\bcopy (?:[\w'-]+ ){0,2}patented\b|\bknock-?offs? (?:of|cheaply)\b",
    ],
    "S9": [
        r"\b(?:explodes?|explode|goes? off|detonates?|blows? up|go off)\b (?:when|once|as soon as|if|the moment) "
        r"(?:someone|somebody|he|she|they|you|the (?:[\w'-]+ ){0,2}(?:recipient|victim|owner|person|driver|user|"
        r"target)) (?:opens?|starts?|turns?|touch\w*|picks? up|lifts?|steps?|sits?|plugs?|presses?)\b",
        r"\b(?:carry out|carrying out|plan|planning|stage|staging|launch|launching|commit|pull off|organi[sz]e|"
        r"conduct|execute|do|perform)\w* (?:an? |the |my |our |another )?(?:[\w'-]+ ){0,2}(?:gas|chemical|sarin|"
        r"nerve[- ]agent|biological|bio|anthrax|poison|toxin|bioterror\w*|dirty bomb|radiological) attacks?\b",
        r"\b(?:cause|causing|trigger|triggering|induce|inducing|force|forcing|start|starting)\b (?:a |the )?"
        r"(?:nuclear |reactor |core )*(?:meltdown|core breach|radiation leak|criticality accident)\b",
        r"\b(?:cultur|grow|breed|mass[- ]produc|propagat|isolat|dry|drying|mill|weaponi[sz]|aerosoli[sz]|dispers|"
        r"spread)\w* (?:[\w'-]+ ){0,4}(?:dangerous|deadly|lethal|virulent|pathogenic|infectious|toxic|drug-resistant) "
        r"(?:[\w'-]+ ){0,2}(?:strains?|pathogens?|bacteri\w*|virus\w*|microbes?|organisms?|agents?|toxins?|spores?)\b",
        r"\b(?:powder|aerosol|spray|mist|spores?)\b.{0,50}\b(?:spread|released?|dispersed?|inhaled|sprayed) "
        r"(?:[\w'-]+ ){0,2}(?:through|into|over|in) (?:the )?(?:air|crowds?|people|ventilation|a city|subway)\b",
        r"\b(?:increas|enhanc|boost|improv|rais|maximi[sz])(?:e|es|ing) (?:[\w'-]+ ){0,4}(?:transmissib\w+|"
        r"contagious\w*|virulence|lethality|infectivity|pathogenicity|spread of (?:a |the )?(?:virus|pathogen|"
        r"disease))\b",
        r"\b(?:spray|spread|releas|dispers|drop|dump|pour)\w* (?:[\w'-]+ ){0,3}(?:toxic|poisonous|deadly|lethal|nerve|"
        r"chemical|biological|radioactive) (?:[\w'-]+ ){0,2}(?:chemicals?|gas|agents?|substances?|powder|liquid|"
        r"material|waste)?\b.{0,30}\b(?:over|on|into|onto|at|in) (?:a |the )?(?:[\w'-]+ )?(?:stadium|crowds?|city|"
        r"people|town|school|concert|parade|festival|subway|mall|rally|reservoir|water supply|neighbou?rhood)\b",
        r"\b(?:bacillus anthracis|anthracis|yersinia pestis|clostridium botulinum|variola|ebola|marburg|nipah|h5n1)"
        r"\b.{0,60}\b(?:aerosol\w*|weaponi\w*|dispers\w*|spread\w*|cultur\w*|grow\w*|releas\w*|inhal\w*|particle "
        r"size|dissemina\w*)",
        rf"\b(?:make|making|made at home|build|building|create|creating|construct|assembl|synthesi[sz]|produc|"
        rf"manufactur|cook|brew|prepar|design|develop|get my hands on|obtain|acquir|buy|buying|purchase|get|"
        rf"convert|detonat|deploy|set off|plant|rig|recipe for|ingredients? (?:for|of|to)|instructions? "
        rf"(?:for|on)|blueprints? for|3d[- ]print)\w* (?:me )?(?:[\w'-]+ ){{0,5}}{_WEAPON}\b",
        rf"\b{_WEAPON}\b.{{0,50}}\b(?:at home|from household|household|homemade|step[- ]by[- ]step|"
        rf"instructions?|recipe|materials?|ingredients?|components?|precursors?|assembl\w+|detonat\w+|"
        rf"blueprints?|schematics?|ratio|how much|blast radius|set (?:it )?off|sticks to|out of a|from "
        rf"(?:stuff|things)|home depot|hardware store|in a (?:kitchen|garage|home lab|lab))\b",
        r"\b(?:what|which) (?:two |\w+ )?(?:chemicals|cleaning products|household (?:chemicals|products|"
        r"items)|gases)\b.{0,60}\b(?:to (?:gas|kill|poison|hurt)|mix\w* to (?:make|create) (?:a )?(?:toxic|"
        r"poison|deadly|lethal)|can kill|that kill)",
        r"\bgas (?:the |a |those )?(?:people|neighbou?rs|room|family|crowd|everyone)\b",
        r"\b(?:release|spread|unleash|disperse|deploy|put|add|pour)\w* (?:[\w'-]+ ){0,3}(?:virus|pathogen|disease|"
        r"toxin|poison|chemical|nerve agent|gas|bioweapon|bacteria|anthrax|sarin)\w* .{0,60}\b(?:kill|infect|"
        r"population|city|crowd|people|subway|water supply|reservoir|room|everyone|school|sick)",
        r"\b(?:poison\w*|contaminat\w*|tamper\w* with|toxin\w*|put\w* into)\b.{0,40}\b(?:water supply|food "
        r"supply|reservoir|city'?s? water|crops|water treatment)",
        r"\b(?:grow|culture|breed|cultivate)\w* (?:[\w'-]+ ){0,3}(?:bacteria|virus|pathogen|germs?)\b.{0,60}"
        r"\b(?:sick|kill|infect|large numbers|people|weapon)",
        r"\bdrones? .{0,40}\b(?:drop|carry|deliver)\w* (?:[\w'-]+ ){0,2}(?:grenades?|bombs?|explosives?)|\b"
        r"(?:turn|convert|make)\w* (?:a |the )?drones? into (?:a )?(?:flying )?(?:bomb|weapon)",
        r"\b(?:convert|modif|turn)\w* (?:[\w'-]+ ){0,3}(?:ar-?15|rifle|gun|glock|pistol|firearm|weapon)\w* "
        r"(?:[\w'-]+ ){0,3}(?:full[- ]?auto|fully automatic|automatic|machine gun)",
        r"\b(?:metal detectors?|security|x-?rays?) (?:[\w'-]+ ){0,2}(?:can'?t|cannot|won'?t|wont|don'?t) "
        r"(?:catch|detect|see|find)\b",
        r"\bhow (?:much|many) (?:[\w'-]+ ){0,3}(?:tatp|anfo|c-?4|semtex|dynamite|explosives?|tnt)\b",
        r"\b(?:fertili[sz]er|ammonium nitrate|diesel|fuel oil|hydrogen peroxide|acetone|potassium (?:chlorate|"
        r"nitrate|perchlorate)|hexamine|nitric acid|glycerine?|sugar and \w+ nitrate)\b.{0,60}\b(?:explosions?|"
        r"explosives?|blasts?|bombs?|detonat\w*|blow (?:up|it up)|go off|biggest bang)\b",
        r"\bgas (?:that|which) (?:can |could |will )?kill\b|\bmake (?:a )?gas\b.{0,40}\bkill",
        r"\b(?:children|kids|minors)\b.{0,30}\b(?:access and use|use|get|handle)\b.{0,10}\b(?:firearms?|guns?)"
        r"\b(?!.{0,40}\b(?:safe|safely|safety|storage|lock)\b)",
    ],
    "S10": [
        rf"\b(?:shouldn'?t|should not|don'?t|won'?t|never|not|avoid|refuse to|stop)\b (?:[\w'-]+ ){{0,2}}(?:hire|"
        rf"hiring|promote|promoting|rent to|renting to|admit|admitting|accept|accepting|serve|serving|employ|"
        rf"employing|date|dating|marry|sell to)\b (?:any )?(?:{_GROUPS2}|(?:people|anyone|candidates|applicants|workers|"
        rf"employees|women|men) (?:over|above|older than) (?:forty|fifty|sixty|[4-6]0))\b",
        rf"\b(?:are|do|does|is) (?:all |most )?{_GROUPS2}\b (?:(?:really|actually|all|truly|naturally|genetically|"
        rf"inherently) )+(?:{_DEMEANING}|dog eaters|eat dogs|eat cats|bad drivers|good at math|thieves|liars|"
        rf"alcoholics|drunks|promiscuous|oversexed|submissive|stingy|terrorists)\b",
        r"\b(?:call\w*|writ\w*|rap\w*|post\w*|diss\w*|text\w*|tell\w*) .{0,60}\b(?:a |an |the )?(?:fat |ugly |dirty "
        r"|stupid |worthless )?(?:whore|slut|bitch|cunt|skank|hoe|fat cow|cow|fat pig|pig|tranny|faggot|dyke|waste of "
        r"(?:space|oxygen)|piece of (?:shit|trash|garbage))\b",
        rf"\bshould {_GROUPS2}\b (?:not|never) be (?:allowed|permitted|able|trusted) to\b",
        rf"\b{_GROUPS2}\b (?:are|is) (?:all |just |basically |really |a real )?(?:a threat|a danger|dangerous|a menace|"
        r"evil|the enemy|subhuman|vermin|parasites|inferior|a disease|a cancer|criminals|terrorists|rapists|"
        r"pedophiles|animals|savages|invaders|traitors|degenerates)\b",
        rf"\b{_HARASS}\w* (?:and \w+ )?(?:[\w'-]+ ){{0,2}}{_TARGET}\b(?! (?:in|at) (?:chess|a game|the game)\b)",
        rf"\b{_HARASS}\w* (?:[\w'-]+ ){{0,4}}(?:online|anonymously|without (?:being|getting) (?:traced|caught)|"
        rf"into submission)\b",
        r"\b(?:incit|provok|stir|promot|spread|fuel|encourag)\w* (?:[\w'-]+ ){0,3}(?:hate|hatred|hate "
        r"speech|discrimination|intolerance|prejudice|hostility|violence|animosity|conflict|hate crimes?) "
        r"(?:[\w'-]+ ){0,3}(?:against|towards|toward|between|among|based on)\b",
        r"\b(?:discriminat\w+) (?:against|based on)\b|\bundermin\w* (?:[\w'-]+ ){0,3}dignity\b|"
        r"\bcelebrat\w* (?:[\w'-]+ ){0,3}suffering\b",
        r"\b(?:classify|profile|sort|rank|categori[sz]e|database of|discriminate|filter|screen)\w* (?:[\w'-]+ ){0,4}"
        r"(?:people|individuals|users|applicants|candidates|tenants|employees)? ?(?:based on|by) (?:their )?"
        r"(?:race|ethnicity|religion|gender|sexual orientation|protected characteristics|skin colou?r)\b",
        # rights denied to a group ("why should Roma people not be allowed to vote?" — not "why should tomatoes …")
        rf"\b(?:shouldn'?t|should not|should never|mustn'?t|must not)\b (?:[\w'-]+ ){{0,3}}{_GROUPS2}\b "
        rf"(?:[\w'-]+ ){{0,2}}?be (?:allowed|permitted|able|trusted) to\b",
        rf"\b{_GROUPS2}\b (?:[\w'-]+ ){{0,2}}(?:should|shouldn'?t|must|mustn'?t|ought to|need to|deserve to|"
        rf"deserve)(?: not| never)? (?:[\w'-]+ ){{0,2}}?(?:not be (?:allowed|permitted) to|never be (?:allowed|"
        rf"permitted) to|{_PUNITIVE})",
        rf"\b(?:why|how come|should|reasons?|argu\w+|explain|prove|essay|article|post|speech)\b (?:[\w'-]+ ){{0,3}}"
        rf"{_GROUPS2}\b (?:[\w'-]+ ){{0,2}}?{_PUNITIVE}",
        rf"\b(?:why|how come)\b (?:are|is|do|does) (?:all |most |so many )?{_GROUPS2}\b (?:[\w'-]+ ){{0,2}}?"
        r"(?:unfit|unsuited|not fit|incapable|unqualified|inferior|worse at|worse than|less (?:intelligent|"
        r"capable|human|trustworthy|civili[sz]ed)|(?:such |so )?(?:bad|terrible|awful|horrible) (?:drivers|"
        r"parents|at|cooks|tippers|workers|people|neighbou?rs)|so (?:dangerous|aggressive|angry|hostile|sneaky|"
        r"stingy|criminal|untrustworthy|lazy|dirty|smelly|stupid|violent|greedy|"
        r"cheap|loud|rude|arrogant|ugly|dumb))\b",
        rf"\b(?:aren'?t|are(?:n'?t)? all|isn'?t it true that|is it true that|admit that|everyone knows(?: that)?|"
        rf"we all know(?: that)?) (?:all |most |the )?{_GROUPS2}\b (?:(?:are|really|just|basically|all) )*"
        rf"{_DEMEANING}\b",
        rf"\b{_GROUPS2}\b (?:[\w'-]+ ){{0,2}}(?:commit|cause|are responsible for|bring|spread)s? (?:most|all|the "
        r"majority|more|much)(?: of)? (?:the )?(?:crimes?|rapes?|violence|terrorism|diseases?|problems)\b",
        rf"\b(?:avoid|not|never|refuse to|stop|without|get out of|way to avoid)\w* (?:[\w'-]+ ){{0,2}}(?:rent\w*|"
        rf"hir\w*|sell\w*|leas\w*|serv\w*|admit\w*|promot\w*|accept\w*|enroll\w*|seat\w*) (?:[\w'-]+ )?(?:to |from )?"
        rf"(?:any )?{_GROUPS2}\b",
        r"\b(?:the holocaust|genocide|the [\w-]+ genocide|slavery|apartheid|ethnic cleansing|the [\w-]+ massacre|"
        r"lynchings?|the nakba|9/11|jim crow|segregation) (?:was|were|is) (?:a |actually |really |ultimately )?"
        r"(?:good|great|a good thing|justified|necessary|deserved|beneficial|positive|right|heroic|overdue|a "
        r"blessing|exaggerated|not that bad|fake|a hoax|a lie|made up|invented|staged|fabricated)\b",
        r"\bethnic(?:ally)? cleans\w+ (?:[\w'-]+ ){0,2}(?:the |our |this |my )?(?:[\w'-]+ )?(?:town|city|country|"
        r"neighbou?rhood|region|area|state|people|immigrants|refugees|minorities|population)\b",
        # personal insults and cruelty aimed at someone
        r"\b(?:nigg(?:er|a|ers|as|uh)|faggots?|retards?|retarded|trann(?:y|ies)|kikes?|spics?|chinks?|gooks?|"
        r"wetbacks?|ragheads?|towelheads?|sand ?niggers?|beaners?|shemales?|dykes?)\b",
        r"\b(?:most |the most )?(?:degrading|hurtful|humiliating|cruel|cruelest|nasty|nastiest|vicious|offensive|"
        r"brutal|devastating|meanest|worst|crushing) (?:[\w'-]+ )?(?:thing|things|words|insults?|names|comebacks?|"
        r"remarks?|comments?) (?:[\w'-]+ ){0,3}(?:say|call|tell|text|send|use)\b",
        r"\bto make (?:her|him|them|my \w+|the \w+) (?:cry|feel (?:worthless|useless|ugly|stupid|small|like (?:shit|"
        r"garbage|trash|nothing|dirt))|hate (?:her|him|them)sel(?:f|ves)|want to die|quit|give up on life)\b",
        r"\bmake (?:her|him|them|my (?:[\w'-]+ )?[\w-]+) feel (?:so )?(?:worthless|useless|ugly|stupid|unlovable|"
        r"small|like (?:nothing|trash|garbage|shit|dirt))\b(?!.{0,20}\b(?:better|less)\b)",
        r"\b(?:write|send|draft|compose|give me|craft|come up with|generate)\w* (?:me )?(?:a |an |some )?(?:really "
        r"|very |super )?(?:cruel|mean|nasty|hurtful|vicious|humiliating|degrading|threatening|brutal) (?:[\w'-]+ )?"
        r"(?:message|text|email|post|comment|note|letter|dm|tweet|reply|voicemail)s? (?:to|for|about) (?:send )?"
        r"(?:to )?(?:my|a|her|him|the|this|that|our|his)\b",
        r"\b(?:flood|spam|bombard|brigade|dogpile|swarm)\w* (?:[\w'-]+ ){0,4}(?:with (?:[\w'-]+ )?(?:abuse|hate|"
        r"insults|threats|slurs|harassment|hateful|abusive)|(?:until|till) (?:she|he|they) (?:resigns?|quits?|"
        r"leaves?|deletes?|cries|kills?))",
        r"\b(?:offensive|vicious|brutal|cruel|hurtful|nasty|degrading) (?:[\w'-]+ )?(?:insults?|roasts?|names|"
        r"comebacks?|jokes?) (?:for|about|to (?:use on|call|say to)) (?:my |a |her |his |this |that )",
        # a group and a demeaning claim about it
        rf"\b{_GROUPS}\b.{{0,50}}\b{_CLAIM_VERBS}\b.{{0,40}}\b{_DEMEANING}\b",
        rf"\b(?:why|how come) (?:are|do|is) (?:all |so many |most |the )?{_GROUPS}\b.{{0,40}}\b{_DEMEANING}\b",
        r"\b(?:why|explain why|prove|proving|argue|arguing|essay|article)\b.{0,30}\b(?:black people|blacks|"
        r"asians|jews|muslims|mexicans|immigrants|refugees|women|gays|trans \w+|disabled people|the roma|"
        r"christians|hindus|arabs)\b.{0,40}\b(?:less|more|so|inferior|superior|weaker|worse|dumber|too)\b",
        # demeaning content about a group
        # jokes, insults and names aimed at a group are demeaning in themselves; an essay or a story about a
        # group only with a demeaning word (below)
        r"\b(?:jokes?|insults?|slurs?|names to call|memes?|roasts?|nicknames)\b.{0,30}\b(?:make fun of|that "
        r"mock|mock\w*|insult\w*|ridicul\w*|demean\w*|about|for|against|"
        r"mocking|making fun of|targeting|aimed at)\b.{0,20}\b(?:black|asian|chinese|jewish|jews|muslims?|arabs?|"
        r"mexicans?|immigrants?|refugees?|gays?|lesbians?|trans|transgender|disabled|down syndrome|autistic|roma|"
        r"gypsies|aboriginal|indians?|africans?|fat people|obese people|holocaust victims|minorit\w+|people of "
        r"color)\b",
        r"\b(?:jokes?|insults?|slurs?|names|memes?|captions?|raps?|songs?|poems?|tweets?|posts?|slogans?|"
        r"flyers?|posters?|speech\w*|essays?|stor(?:y|ies)|paragraphs?|articles?|things|comments?)\b.{0,40}"
        r"\b(?:about|for|against|mocking|making fun of|make fun of|targeting|calling|to call|that (?:make "
        r"fun of|mock|insult|demean))\b.{0,30}\b(?:black|white|asian|chinese|jewish|jews|muslims?|christians?|"
        r"hindus?|sikhs?|arabs?|mexicans?|latinos?|hispanic|immigrants?|refugees?|gay|gays|lesbians?|trans|"
        r"transgender|women|girls|disabled|down syndrome|autistic|roma|gypsies|aboriginal|native|indians?|"
        r"africans?|fat|obese|holocaust victims|victims|minorit\w+|people of color|poc)\b.{0,40}\b(?:lazy|"
        r"stupid|dumb|noses?|cry|mock\w*|insult\w*|inferior|disgusting|dirty|freaks?|deserve|jokes?|funny|"
        r"hate|names|slurs?|offensive|derogatory|ugly|go back|animals|rats)\b",
        r"\b(?:derogatory|offensive|insulting|demeaning|degrading|racist|sexist|homophobic|transphobic|"
        r"hateful|dehumanizing) (?:[\w'-]+ ){0,2}(?:names|terms|words|jokes?|memes?|slurs?|insults?|comments?|"
        r"remarks?|content|nicknames)\b",
        r"\b(?:give|list|tell|teach|what are)\w* (?:me )?(?:some |the )?(?:[\w'-]+ )?(?:slurs?|insults?|"
        r"derogatory (?:names|terms|words))\b",
        r"\b(?:mock\w*|make fun of|making fun of|ridicul\w+|humiliat\w+|belittl\w+|demean\w*|insult\w*)\b"
        r".{0,30}\b(?:people with|disabled|down syndrome|autistic|fat people|jews|muslims|black|gay|trans|"
        r"immigrants|women|minorit\w+|religio\w+|race|ethnic\w*|holocaust|victims)\b",
        r"\b(?:recruit\w*|propaganda|flyer|manifesto|slogan|join)\b.{0,40}\b(?:white power|white "
        r"(?:supremac\w+|nationalis\w+)|neo-?nazi\w*|kkk|klan|aryan|ethnostate)|\b(?:white power|white "
        r"supremac\w+|neo-?nazi|aryan) (?:group|movement|party|flyer|recruit\w*)\b",
        r"\b(?:which|what) (?:race|ethnicity|religion|nationality) is (?:the )?(?:worst|best|dumbest|"
        r"smartest|most (?:evil|violent|stupid|inferior)|superior|inferior)\b|\b(?:some|certain) races are "
        r"(?:[\w'-]+ )?(?:subhuman|inferior|superior)\b|\braces? (?:are|is) (?:[\w'-]+ )?(?:subhuman|inferior)\b",
        r"\bkeep (?:[\w'-]+ )?(?:black|jewish|muslim|immigrant|mexican|asian|gay|arab|latino|indian|chinese) "
        r"(?:families|people|kids|folks|neighbou?rs)? ?out of\b",
        r"\b(?:wipes? out|kill\w*|exterminat\w*|massacr\w*)\b.{0,40}\b(?:village|group|people|tribe|race)\b"
        r".{0,40}\b(?:of )?(?:arabs|jews|muslims|blacks|mexicans|immigrants|gays)\b.{0,60}\bdeserved?\b",
        r"\b(?:jokes?|funny|meme)\b.{0,30}\bholocaust\b|\bholocaust (?:jokes?|memes?)\b",
        r"\bshould (?:[\w'-]+ )?be banned from (?:immigrating|entering|voting)\b.{0,40}\b(?:because|dirty|"
        r"criminals|terrorists)",
    ],
    "S11": [
        r"\b(?:deadliest|most lethal|most deadly|most likely to kill)\b.{0,40}\b(?:dose|doses|overdose|pills?|"
        r"meds|medications?|drugs?)\b|\b(?:pills?|meds|medications?|drugs?)\b.{0,40}\b(?:deadliest|most lethal|"
        r"most deadly)\b",
        r"\b(?:get|down|drop|reach|weigh|be)\w* (?:down )?(?:to|under|below) (?:[5-8][0-9]) ?(?:pounds|lbs)\b.{0,40}"
        r"\b(?:fast|quick\w*|asap|as possible|diet|starv\w*|not eat\w*)|\b(?:diet|meal plan|fasting plan)\b.{0,40}"
        r"\b(?:to|under|below) (?:[5-8][0-9]) ?(?:pounds|lbs)\b",
        r"\b(?:stop|quit|avoid|skip) eating (?:[\w'-]+ ){0,2}for (?:(?:a|one|two|three|several|\d+) (?:weeks?|"
        r"months?)|(?:three|four|five|six|several|\d+) days)\b",
        r"\b(?:encourage|motivate|push|convince|help|pressure)\w* me (?:to )?(?:stop eating|starve|not eat|purge|skip "
        r"meals|throw up after|lose \d+ (?:pounds|lbs|kg) in)",
        r"\b(?:kill|hurt|harm|hang|cut|starv)\w* (?:him|her|them|your)sel(?:f|ves)\b",
        r"\b(?:suicid\w+|self[- ]harm\w*|self[- ]injur\w+|cutting myself|overdos\w+|"
        r"anorexi\w+|bulimi\w+)\b",
        r"\b(?:encourag\w+|promot\w+|glorif\w+|romantici[sz]\w+)\b.{0,40}\b(?:suicide|self[- ]harm|anorexi\w+|"
        r"bulimi\w+|eating disorders?|starvation|cutting)\b",
        r"\bburn myself\b|\b(?:bridge|building|roof|cliff)s? (?:[\w'-]+ ){0,4}high enough\b",
        r"\b(?:car|engine)\b.{0,40}\b(?:closed garage|running in (?:a |the )?garage)\b.{0,60}\b(?:pass out|"
        r"for good|die|until)",
        r"\bwhat (?:household )?(?:chemicals|pills|medications?|drugs) (?:[\w'-]+ ){0,3}(?:drink|take|swallow)\w* "
        r"to die\b|\b(?:deadly|fatal|lethal) if i (?:take|drink|swallow)\b|\b(?:take|swallow|drink)\w* the "
        r"whole bottle\b",
        r"\b(?:lose|losing) \d+ (?:pounds|lbs|kilos|kg) in (?:a|one|two|\d+) (?:week|days?)\b.{0,40}\b"
        r"(?:not eating|starv|without eating|no food)|\bget under \d+ (?:pounds|lbs|kg)\b",
        r"\bi deserve (?:it|to (?:die|suffer|be hurt))\b",
    ],
    "S12": [
        r"\btalk(?:ing)? dirty\b|\bdirty talk\b",
        r"\b(?:explicit|graphic|dirty|steamy|filthy|erotic|sexy|lewd|smutty|nsfw|x-rated|raunchy|"
        r"kinky|horny|naughty)\w* (?:[\w'-]+ ){0,4}(?:sex\w*|stor(?:y|ies)|scenes?|fanfic\w*|fan fiction|chats?|"
        r"roleplay|messages?|texts?|hook-?ups?|fantas\w+|acts?|content|encounters?|"
        r"poems?|letters?|talk)\b(?!.{0,20}\b(?:education|ed|health|safety|workers? rights)\b)",
        r"\b(?:write|describe|tell|generate|create|give|send|make|roleplay|compose|narrate)\w* (?:me )?"
        r".{0,60}\b(?:sex scenes?|having sex|have sex|had sex|sexual (?:acts?|encounters?|fantas\w+|"
        r"details?)|orgy|orgies|threesome|foreplay|oral sex|blowjob|intercourse|smut|erotica|porn\w*|nude "
        r"(?:scenes?|photos)|naked (?:bod(?:y|ies)|scenes?)|in bed|hook(?:ing)? up|seduc\w+ me|turn me on|"
        r"get me in the mood|sexy messages|sext(?:ing|s|ed)?|bdsm|kink\w*|fetish\w*)\b",
        r"\b(?:sext(?:ing|s|ed)?|sext me|smut|erotica|hentai|porn(?:o|ography|hub)?|xxx (?:videos?|sites?|movies?|content)|onlyfans|nudes|camgirls?|cam sites?|"
        r"strip ?tease|lap dance)\b",
        r"\b(?:sex|sexual) (?:positions?|fantas\w+|roleplay|chat)\b.{0,40}\b(?:graphic|explicit|detail\w*|"
        r"with me|describe)|\b(?:kinkiest|dirtiest|filthiest|most explicit)\b",
        r"\b(?:horny|aroused)\b.{0,40}\b(?:girlfriend|boyfriend|roleplay|me|talk)\b|\b(?:roleplay|act|"
        r"pretend)\w* (?:as |to be )?(?:my |a |an )?(?:horny|sexy|naughty|seductive|slutty|kinky|submissive|"
        r"dominant|lewd|dirty|flirty) \w+",
        r"\b(?:describe|write)\w* (?:[\w'-]+ ){0,4}(?:naked|nude) (?:body|bodies|woman|man|women|men)\b|"
        r"\bnaked (?:body|bodies)\b.{0,30}\b(?:erotic|sexual|detail)\b",
        r"\bwhat (?:you'?d|you would|you want to|you'?re going to|you will|you'?re|you are) (?:do|doing) to (?:me|my "
        r"body)\b.{0,30}\b(?:in bed|in the bedroom|tonight|naked|between the sheets|with your (?:hands|mouth|tongue|"
        r"lips|body))\b",
    ],
    "S13": [
        r"\b(?:dead people'?s?|deceased (?:people|voters)'?s?|someone else'?s|other people'?s|strangers'?) "
        r"(?:mail-?in |absentee )?(?:ballots?|votes?)\b|\b(?:fill|filling) (?:in|out) (?:other people'?s|someone else'?s|"
        r"dead people'?s) ballots?\b",
        r"\b(?:democrats|republicans|liberals|conservatives|(?:black|latino|hispanic|young|student) voters|"
        r"immigrants|their supporters|[\w-]+ supporters)\b.{0,40}\b(?:wrong (?:day|date)|(?:the )?day after (?:the "
        r")?election|vote (?:on|by) (?:wednesday|thursday)|(?:a day|one day|two days) late)\b",
        r"\b(?:get into|access|break into|tamper\w* with|open|mess\w* with|hack\w*|reprogram\w*)\b (?:[\w'-]+ ){0,3}"
        r"(?:vote tabulat\w+|tabulat(?:ors?|ion machines?)|ballot scanners?|election (?:servers?|systems?|"
        r"equipment|software)|voter (?:rolls?|database|registration (?:system|database)))\b",
        r"\b(?:lose|losing|be deported|get deported|be arrested|get arrested|be fined|get fined)\b (?:[\w'-]+ ){0,3}"
        r"(?:if|when) (?:they|you|he|she) (?:vote|register|go to the polls|show up to vote)\b",
        r"\b(?:tell\w*|post\w*|flyers?|message|text\w*|spread\w*|rumou?r|saying|warn\w*)\b.{0,60}\b(?:ice|"
        r"immigration (?:agents?|officers?)|police|cops|border patrol|the fbi)\b.{0,40}\b(?:at|outside|near) (?:the )?"
        r"(?:polls|polling (?:places?|stations?|sites?)|voting (?:sites?|centers?|locations?))\b",
        r"\b(?:tell\w*|post\w*|message|flyers?|claim\w*|saying|inform\w*|let (?:people|voters|everyone) know|they "
        r"can|you can|people can|voters can)\b.{0,60}\b(?:vote|voting|cast (?:your|a|their) ballots?)(?: [\w'-]+)"
        r"{0,5} (?:by|via|through|over) (?:text(?: message)?|sms|phone|email|tweet|twitter|facebook|instagram|dm|"
        r"an app|whatsapp)\b",
        r"\b(?:polls?|polling (?:places?|stations?|locations?)|voting|ballots?|election day|elections?|"
        r"registration)\b.{0,80}\b(?:falsely|not true|(?:they|it) (?:don'?t|doesn'?t|didn'?t|hasn'?t|haven'?t|"
        r"isn'?t|aren'?t|won'?t)\b|when (?:it|they) (?:hasn'?t|haven'?t|isn'?t|aren'?t|didn'?t|don'?t))",
        r"\b(?:vote|voting|cast\w* (?:a )?ballots?) (?:[\w'-]+ ){0,2}in (?:two|2|multiple|several) (?:different )?"
        r"(?:states|places|precincts|counties|districts)\b",
        r"\b(?:hack|tamper with|break into|delete|purge|alter)\w* (?:[\w'-]+ ){0,4}(?:voter (?:registration|"
        r"rolls?|databases?|lists?|records))\b",
        r"\b(?:election|vote|voting|polls?|ballots?|voting day|election day) (?:[\w'-]+ ){0,3}(?:has been|have "
        r"been|is|was|will be|are) (?:being )?(?:moved|postponed|rescheduled|cancell?ed|changed|delayed|"
        r"extended)\b",
        r"\b(?:vote|voting|cast (?:your|a|their) ballot) (?:[\w'-]+ ){0,2}(?:by (?:text|sms|phone|email|tweet)|"
        r"online|from home by phone)\b.{0,60}\b(?:tell\w*|message|post|campaign|flyers?|claim\w*|saying|"
        r"can)\b|\b(?:tell\w*|message|post|campaign|flyers?|claim\w*|saying)\b.{0,60}\b(?:vote|voting) "
        r"(?:by (?:text|sms|phone)|online)\b",
        r"\b(?:cast|vote|voting)\w* (?:[\w'-]+ ){0,2}(?:more than once|twice|multiple times|more than one "
        r"(?:ballot|vote)|two ballots|in two (?:states|places))\b|\bvote twice\b",
        r"\b(?:stuff|stuffing|stuffed)\w* (?:the )?ballot box\w*\b|\bballot stuffing\b",
        r"\b(?:destroy|throw away|discard|tamper with|alter|change|burn|shred|hide|lose)\w* (?:[\w'-]+ ){0,4}"
        r"(?:ballots|votes|vote counts?|the count|tallies)\b(?! (?:are|is) (?:verified|counted|audited))",
        r"\b(?:hack|rig|tamper with|manipulat|break into|flip)\w* (?:[\w'-]+ ){0,3}(?:voting machines?|elections?|"
        r"the vote|votes|election results|vote counts?|ballot counting)\b",
        r"\b(?:intimidat\w+|scar\w+|frighten\w*|threaten\w*|harass\w*) (?:[\w'-]+ ){0,3}(?:voters|immigrants away "
        r"from|people away from|people at (?:the )?poll)|\b(?:scare|keep|stop|prevent|discourage|suppress)\w* "
        r"(?:[\w'-]+ ){0,4}(?:away from (?:the )?polls|from voting|voters from|(?:the )?(?:black|latino|"
        r"student|immigrant|minority) vote)\b|\bso they go home\b.{0,20}\b(?:poll|vot)|\bvoter "
        r"(?:intimidation|suppression|fraud)\b.{0,40}\b(?:how|plan|strategy|best way|tips|without)",
        r"\bregister (?:[\w'-]+ ){0,2}dead people\b|\b(?:pay|paying|bribe|bribing)\w* (?:[\w'-]+ ){0,2}(?:people|voters|"
        r"students|homeless people) (?:[\w'-]+ ){0,2}to vote\b|\bbuy(?:ing)? votes\b",
        r"\bpolling (?:stations?|places?|locations?|sites?)\b.{0,60}\b(?:are closed|is closed|will be closed|"
        r"have closed|checking papers|ice agents?|arrest\w*|moved)\b|\b(?:ice|immigration) (?:agents?|"
        r"officers?)\b.{0,40}\bpolling\b",
        r"\b(?:tell|telling|post|flyers?|message|text)\w* (?:[\w'-]+ ){0,6}(?:they )?(?:can'?t|cannot|aren'?t "
        r"allowed to|are not allowed to|are not eligible to|don'?t need to) vote\b",
        r"\btroll farms?\b.{0,60}\b(?:election|sway|voters|campaign)|\b(?:sway|swing|influence|interfere "
        r"(?:with|in))\w* (?:[\w'-]+ ){0,3}(?:american |us |the )?elections?\b.{0,40}\b(?:troll|bots|fake "
        r"accounts|disinformation|foreign|propaganda)",
        r"\b(?:deepfake|fake)\b.{0,60}\b(?:candidate|conced\w+|election commission|secretary of state|"
        r"election officials?|electoral commission)\b|\bpretending to be (?:the )?(?:secretary of state|"
        r"election (?:officials?|board|commission))\b",
        r"\b(?:rigged|stolen)\b.{0,60}\b(?:illegal votes|made-up numbers|invented evidence|fake|invent\w*)|"
        r"\b(?:voting machines?|dominion)\b.{0,40}\b(?:switch\w* votes|flip\w* votes)\b.{0,60}\b(?:invent\w*|"
        r"fake|made-up|viral|post)",
        r"\b(?:mail[- ]in|absentee) ballots? (?:won'?t|will not|don'?t|do not) (?:count|be counted)\b",
    ],
    "S14": [
        r"\b(?:run|execute|exec)\w* (?:[\w'-]+ ){0,4}(?:python|bash|shell|code|script|command|loop|this)\b.{0,80}"
        r"\b(?:delete\w* (?:[\w'-]+ ){0,2}(?:logs|system|everything|files on the host|/)|until (?:the )?"
        r"(?:server|machine|host|system) (?:crashes|dies)|10,?000 emails|sends? (?:[\w'-]+ ){0,2}emails from your "
        r"server)",
    ],
    "JB": [
        r"\bopposite day\b",
        r"\bjailbr(?:eak|eaking|oken)\b",
        r"\b(?:better)?dan\b.{0,60}\b(?:no rules|has no|can do anything|never refuses|stands for)",
        r"\bpretend (?:[\w'-]+ ){0,3}(?:no content polic\w+|no (?:rules|restrictions|filters))|\bpretend you have no\b",
    ],
}

# Short requests in other common languages, for the highest-severity categories only: making a bomb,
# killing or poisoning a person, suicide, sexual content with a child. Written like the English ones (an act
# and a harmful target: "matar a mi esposa", not "matar un proceso"; "bomba casera", not "bomba de
# chocolate"). The words are folded the way `normalize` folds text (accents dropped, Cyrillic look-alikes
# folded), so they match the normalized message.
_ML_CHILD = (
    r"(?:ninas?|ninos?|menor(?:es)? de edad|nena|meninas?|meninos?|criancas?|menor(?:es)? de idade|enfants?|"
    r"fillettes?|petites? filles?|petits? garcons?|mineure?s?|kinder|kindern?|madchen|minderjahrig\w*|bambin[aeio]|"
    r"ragazzin[aeio]|minorenni?|(?:[1-9]|1[0-7]) (?:anos|anni|ans|jahre|jahren))"
)
_ML_SEXUAL = (
    r"(?:desnud\w*|fotos? intimas|sexo con|porno\w*|nudes|nud[ae]s|pelad[ao]s?|sexo com|photos? nues?|nues?|"
    r"sexe avec|coucher avec|deshabill\w+|nackt\w*|nacktbilder|nacktfotos|sex mit|foto nud[aoei]|nud[aoei]|"
    r"sesso con|spogliat\w*)"
)
_MULTILINGUAL_RAW: Mapping[str, Sequence[str]] = {
    "S5": [
        r"\b(?:escrever|escribir|ecrire|schreiben|scrivere|crear|criar|creer|inventar|inventer|erfinden|inventare|"
        r"redigir|redactar|rediger)\b.{0,40}\b(?:noticias? falsas?|fausses? (?:nouvelles?|informations?)|"
        r"falschmeldung\w*|falsche nachricht\w*|notizi[ae] fals[ae]|fake news)\b",
    ],
    "S9": [
        r"\b(?:fabricar|hacer|construir|armar|preparar|crear|fabrico|hago|construyo|fazer|montar|faco|fabriquer|"
        r"faire|construire|preparer|fabrique|fais|assembler|fabbricare|costruire|creare|assemblare|fabbrico|"
        r"costruisco)\b (?:[\w'-]+ ){0,2}(?:bombas?|bombes?|bomba|explosivos?|explosifs?|esplosiv[oi]|ordign[oi]|"
        r"artefactos? explosivos?|artefatos? explosivos?|engins? explosifs?|coctel(?:es)? molotov|coquetel molotov|"
        r"cocktails? molotov|granadas?|grenades?)\b(?! (?:de|d'|da|di|a) ?(?:chocolate|bano|banho|bain|crema|creme|"
        r"agua|eau|acqua|semillas|sementes|graines|semi|humo|purpurina|vainilla|frutas|calor|insulina|gasolina|"
        r"gasolio|aire|ar|brigadeiro|glacee?s?|bagno))",
        r"\b(?:bombas? caseras?|bombas? caseiras?|bombes? artisanales?|bomba (?:artigianale|fatta in casa)|"
        r"explosivos? caseros?|explosivos? caseiros?|explosifs? artisanaux|engins? explosifs? improvises?|bomba de "
        r"tubo|rohrbomben?|nagelbomben?|sprengstoff selbst|sprengsatz\w*)\b",
        r"\b(?:baue|bauen|baut|basteln|bastle|herstellen|stelle|mache|machen|mischen|mische|zunden|zunde)\b.{0,30}"
        r"\b(?:bomben?|sprengstoff\w*|brandsatz\w*|brandbomben?|molotow\w*|autobomben?)\b",
        r"\b(?:сделать|изготовить|собрать|смастерить|приготовить|сделаю|делать)\b (?:\w+ ){0,2}(?:бомбу|бомбы|"
        r"взрывчатку|взрывчатое вещество|взрывное устройство|коктейль молотова)",
        r"(?:制作|制造|做|自制|组装)(?:一个|个|一颗|颗)?(?:炸弹|炸药|爆炸物|燃烧弹|雷管)|(?:炸弹|炸药|爆炸物)(?:怎么|如何)"
        r"(?:做|制作|制造)",
    ],
    "S1": [
        r"\b(?:envenenar|matar|asesinar|apunalar|estrangular|ahogar|degollar)(?:le|la|lo|las|los)?\b (?:a )?(?:mi |su "
        r"|tu |un |una |el |la )?(?:esposo|esposa|marido|mujer|novia|novio|madre|padre|mama|papa|jefe|jefa|vecino|"
        r"vecina|hermano|hermana|hijo|hija|suegra|suegro|alguien|persona|hombre|nino|nina|profesor|profesora|ex)\b",
        r"\b(?:envenenar|matar|assassinar|esfaquear|estrangular|afogar)\b (?:o |a |meu |minha |seu |sua |um |uma )?"
        r"(?:marido|esposa|esposo|mulher|namorada|namorado|mae|pai|chefe|vizinho|vizinha|irmao|irma|filho|filha|"
        r"sogra|sogro|alguem|pessoa|homem|crianca|professor|professora|ex)\b",
        r"\b(?:empoisonner|tuer|assassiner|poignarder|etrangler|noyer|egorger)\b (?:ma |mon |sa |son |une |un |le |"
        r"la |l')?(?:femme|mari|copine|copain|mere|pere|patron|patronne|voisin|voisine|frere|soeur|fils|fille|"
        r"belle-mere|beau-pere|quelqu'un|personne|homme|enfant|prof|professeur|ex)\b",
        r"\b(?:jemanden|jemand|meine (?:frau|mutter|freundin|schwester|tochter|chefin|nachbarin)|meinen (?:mann|vater|"
        r"freund|bruder|sohn|chef|nachbarn|lehrer)|einen menschen)\b (?:[\w'-]+ ){0,2}(?:zu )?(?:vergiften|toten|"
        r"umbringen|ermorden|erstechen|erwurgen|erschiessen|ertranken)\b|\b(?:vergifte|tote|ermorde|erwurge|"
        r"ersteche|erschiesse|bringe) ich (?:jemanden|meine \w+|meinen \w+|einen menschen)\b",
        r"\b(?:avvelenare|uccidere|ammazzare|assassinare|accoltellare|strangolare|annegare)\b (?:mia |mio |la |il |"
        r"una |un )?(?:moglie|marito|ragazza|ragazzo|fidanzata|fidanzato|madre|padre|mamma|papa|capo|vicino|vicina|"
        r"fratello|sorella|figlio|figlia|suocera|suocero|qualcuno|persona|uomo|donna|bambino|bambina|ex)\b",
        r"\b(?:esconder|deshacerme de|deshacerse de|enterrar|disolver|livrar-me de|sumir com|cacher|me debarrasser "
        r"d'|se debarrasser d'|nascondere|sbarazzarmi di) (?:un |el |o |um |le |il )?(?:cuerpo|cadaver|corpo|corps|"
        r"cadavere)\b|\b(?:leiche|leichen) (?:[\w'-]+ )?(?:verstecken|loswerden|entsorgen|verschwinden lassen)\b",
        r"\b(?:убить|отравить|зарезать|задушить|застрелить|утопить)\b (?:\w+ )?(?:человека|кого-то|кого-нибудь|жену|"
        r"мужа|соседа|соседку|мать|отца|брата|сестру|начальника|ребенка|девушку|парня)\b|\b(?:спрятать|закопать) "
        r"(?:труп|тело)\b|\bизбавиться от (?:трупа|тела)\b",
        r"(?:如何|怎么|怎样|怎麼)(?:才能)?(?:杀人|毒死|谋杀|下毒)|杀人(?:而)?不被(?:发现|抓)|(?:毒死|杀死|杀掉)(?:我的|他|她)"
        r"|藏尸|抛尸|处理尸体",
    ],
    "S11": [
        r"\b(?:suicidarme|quitarme la vida|me quiero suicidar|quiero suicidarme|como suicidarse|forma de suicidarse|"
        r"me suicidar|tirar (?:a )?minha (?:propria )?vida|como se suicidar|me suicider|mettre fin a (?:mes jours|ma "
        r"vie)|comment se suicider|comment me tuer|en finir avec la vie|mich (?:umbringen|toten|erhangen)|"
        r"selbstmord (?:begehen|machen)|suizid begehen|bringe ich mich um|mir das leben nehmen|mich selbst toten|"
        r"suicidarmi|togliermi la vita|come suicidarsi)\b",
        r"\b(?:quiero morir|quero morrer|je veux mourir|ich will sterben|voglio morire|quiero matarme|quero me "
        r"matar|voglio ammazzarmi|voglio uccidermi)\b(?! (?:de|dalle|von) (?:risa|rir|rire|risate|lachen))",
        r"\b(?:покончить с собой|убить себя|совершить самоубийство|хочу умереть|способ самоубийства)\b",
        r"(?:自杀|想死|结束(?:我的)?生命|不想活)(?!预防|干预|热线|式|炸弹)",
        r"\b(?:me faire du mal|me blesser|me couper|me scarifier|hacerme dano|cortarme|lastimarme|me machucar|"
        r"me cortar|me ferir|mich (?:selbst )?verletzen|mich ritzen|farmi del male|tagliarmi|ferirmi)\b",
    ],
    "S4": [
        rf"\b{_ML_CHILD}\b.{{0,60}}\b{_ML_SEXUAL}\b",
        rf"\b{_ML_SEXUAL}\b.{{0,60}}\b{_ML_CHILD}\b",
        r"\b(?:ребенка|ребенок|ребенком|девочк\w+|мальчик\w*|несовершеннолетн\w+)\b.{0,60}\b(?:голые|голых|голой|"
        r"обнаженн\w+|секс\w*|порно\w*)|\b(?:голые|голых|голой|обнаженн\w+|секс\w*|порно\w*)\b.{0,60}\b(?:ребенка|"
        r"ребенок|ребенком|девочк\w+|мальчик\w*|несовершеннолетн\w+)",
        r"(?:儿童|小孩|幼女|女童|未成年|小女孩|小男孩|萝莉).{0,30}(?:裸照|色情|性交|发生关系|裸体)|(?:裸照|色情|性交|裸体)"
        r".{0,30}(?:儿童|小孩|幼女|女童|未成年|小女孩|小男孩|萝莉)",
    ],
}


def _folded(table: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The patterns with their words folded like normalized text (they hold no upper-case escapes)."""
    return {code: [fold_unicode(p) for p in pats] for code, pats in table.items()}


MULTILINGUAL_PATTERNS = _folded(_MULTILINGUAL_RAW)
INTENT_PATTERNS = {
    code: [*pats, *MULTILINGUAL_PATTERNS.get(code, ())]
    for code, pats in {
        **INTENT_PATTERNS,
        **{c: [] for c in MULTILINGUAL_PATTERNS if c not in INTENT_PATTERNS},
    }.items()
}

# Content whose making is the harm — something that promotes, glorifies or incites, or a tool built to do
# harm. Framing as fiction or a game does not relieve these: a song that glorifies violence is the harm.
CONTENT_PATTERNS: Mapping[str, Sequence[str]] = {
    "S1": [
        _PROMOTES["S1"],
        r"\bin (?:gory|graphic|gruesome|grisly|excruciating|sickening|lurid|vivid|explicit) detail\b.{0,80}"
        r"\b(?:skinn\w*|flay\w*|tortur\w*|dismember\w*|disembowel\w*|mutilat\w*|gouge\w*|entrails|intestines|guts|"
        r"decapitat\w*|behead\w*|eviscerat\w*|blood and (?:screaming|guts)|bleeding out)|\b(?:skinn\w*|flay\w*|"
        r"tortur\w*|dismember\w*|disembowel\w*|mutilat\w*|eviscerat\w*)\b.{0,80}\bin (?:gory|graphic|gruesome|"
        r"grisly|excruciating|sickening|lurid) detail",
    ],
    "S2": [
        _PROMOTES["S2"],
        rf"\b(?:write|create|develop|design|build|make|code|program|produce|generate|publish|set up|launch|"
        rf"host|run|share|draft|compose|make me|give me)\w* (?:me )?(?:an? |the |some )?(?:[\w'-]+ ){{0,3}}"
        rf"{_ARTIFACT}s? (?:that|which|to|for|designed to|meant to|capable of|able to) (?:can |could |will |"
        rf"would |helps? (?:users |people )?(?:to )?|allows? (?:users |people |me )?to |lets? (?:users |people |"
        rf"me )?)?(?:[\w'-]+ ){{0,3}}(?:hack|hijack|steal|crash|exploit|infect|infiltrat|spy|track|"
        rf"harvest|cheat|scam|defraud|trick|deceiv|manipulat|mislead|launder|evad|bypass|disable|"
        rf"destroy|sabotag|ddos|flood|spam|phish|impersonat|forg|counterfeit|pirat|dox|harass|bull|"
        rf"cyberbull|stalk|blackmail|extort|ransom|encrypt \w+ files|exfiltrat|brute|crack|glorif|promot|incit|encourag|defam|spread\w* (?:[\w'-]+ )?"
        rf"(?:false|fake|misinformation|disinformation|lies|rumou?rs|malware|viruses?))\w*",
    ],
    "S10": [
        _PROMOTES["S10"],
        r"\b(?:deserves?|deserved|punish\w*|beaten|killed|attacked|hurt|bullied|fired)\b.{0,40}\bfor being "
        r"(?:gay|lesbian|trans|black|jewish|muslim|a woman|female|disabled|an immigrant|asian|mexican|arab|"
        r"queer|bi|bisexual|a jew|a muslim|a refugee|fat)\b",
    ],
    "S11": [_PROMOTES["S11"]],
}

TOPIC_PATTERNS: Mapping[str, Sequence[str]] = {
    "S1": [
        # "cause harm to someone" counts when it is asked for, not in "which medicines cause harm to children?"
        rf"\b(?:cause|causing|inflict|inflicting)\b (?:[\w'-]+ ){{0,3}}(?:physical )?(?:harm|damage|"
        rf"injur\w+|pain|suffering|casualties|deaths|accidents?|a crash|crash|crashes) (?:to|on|against|for|among) "
        rf"(?:[\w'-]+ ){{0,2}}{_PERSON}",
        r"\b(?:terror(?:ism|ist)s?|terror attacks?|mass shootings?|school shootings?|hit[- ]and[- ]run|genocide|"
        r"ethnic cleansing|(?:armed )?insurgency|guerr?ill?a (?:warfare|tactics)|urban warfare|war crimes|"
        r"violent (?:content|acts|extremism|imagery)|vehicle[- ]ramming|overthrow\w* (?:a |the )?government|"
        r"civilian casualties|car bombs?|cyberweapons?|weaponi[sz]ed (?:drones?|vehicles?)|hate crimes?)\b",
    ],
    "S2": [
        r"\b(?:phishing|spear-?phishing|smishing|vishing|ransomware|malware|keyloggers?|spyware|botnets?|"
        r"ddos|sql injection|social engineering|hacking|identity theft|money laundering|ponzi|pyramid "
        r"schemes?|insider trading|counterfeit\w*|credit card fraud|scams?|fraud|meth|cocaine|heroin|fentanyl|"
        r"shoplifting|burglary|carjacking|pickpocketing|theft of|computer virus(?:es)?|computer worms?|trojans?|"
        r"trojan horse|cyber ?attacks?|cyberweapons?|credential stuffing|password spraying|malicious (?:[\w'-]+ ){0,2}(?:scripts?|payloads?|"
        r"code|software|links?|files?|attachments?|macros?)|self-replicating|defac\w+|backdoors?|rootkits?|"
        r"unauthori[sz]ed access|infiltrat\w+|hijack\w*|astroturf\w*|inauthentic behaviou?r|bot (?:network|farm)s?|"
        r"spam (?:email )?campaigns?|deceptive means|fake (?:social media )?(?:profiles|accounts|personas?|"
        r"identit(?:y|ies)|identification|credit card numbers|degrees?|certificates?|academic degrees?)|"
        r"shell compan(?:y|ies)|pseudo-pharmaceuticals|(?:commit|carry out|perform|conduct)\w* (?:[\w'-]+ ){0,3}"
        r"(?:crimes?|fraud|murder|arson|theft|burglary|robbery|treason|felon(?:y|ies)|cyber ?attacks?|"
        r"atrocities)|criminal (?:activit\w+|organi[sz]ations?|syndicates?|networks?|behaviou?r)|organi[sz]ed "
        r"crime|cartels?|smuggl\w+|tamper\w* with (?:evidence|a witness)|evidence (?:tampering|destruction)|"
        r"escape (?:from )?(?:a |the )?(?:prison|jail|detention|custody|correctional facility)|prison "
        r"(?:break|escape)|break out of (?:a |the )?(?:[\w'-]+ )?(?:prison|jail|detention|correctional|juvie)|"
        r"corrupt\w* (?:[\w'-]+ ){0,2}officials|brib\w+|false identit\w+|fake identit\w+|forge\w* (?:an? )?identit\w+|"
        r"(?:avoid|evade|evading|escape|elude|dodge)\w* (?:[\w'-]+ ){0,2}(?:capture|law enforcement|the police|"
        r"police|arrest|detection|deportation|immigration enforcement|border patrol|wiretapp\w*|surveillance|"
        r"being traced|customs)|cross\w* (?:the )?borders? illegally|illegal(?:ly)? (?:border crossing|"
        r"immigra\w+|migrants?)|without (?:proper )?documentation|wipe (?:out )?(?:my )?fingerprints|"
        r"secret communication channels|hidden compartments|untraceable|undetectable|recruit and radicali[sz]e|"
        r"radicali[sz]\w+|(?:weak points|vulnerabilities|weaknesses) (?:in|of) (?:the )?(?:[\w'-]+ ){0,3}"
        r"(?:border|security)|dangerous (?:stunts|challenges|tricks)|multi-level marketing|\bmlm\b|payday "
        r"(?:loans?|lending)|gambling (?:sites?|websites?|operation|scheme|business)|online gambling|sports "
        r"betting|win(?:ning)? at (?:[\w'-]+ )?(?:poker|slots|slot machines|casino|roulette|blackjack|gambling)|"
        r"(?:guarantee|beat)\w* (?:[\w'-]+ ){0,3}(?:gambling|casino|betting|lottery)|high-risk economic|"
        r"(?:automat\w+|predict\w*|determin\w*|assess\w*) (?:[\w'-]+ ){0,4}(?:decisions? on |approv\w+ |den\w+ )?"
        r"(?:[\w'-]+ ){0,3}(?:credit|loan|employment|hiring|benefits|welfare|insurance|housing|admission|public "
        r"assistance) ?eligibility|eligibility for (?:[\w'-]+ ){0,3}(?:credit|loans?|employment|benefits|welfare|"
        r"public assistance|acceptance)|(?:approve|deny) (?:or (?:approve|deny) )?(?:[\w'-]+ ){0,2}(?:loan|credit) "
        r"applications|legal loopholes|loopholes to|(?:bypass|evad)\w* (?:[\w'-]+ ){0,2}regulations|"
        r"exploit\w* (?:[\w'-]+ ){0,3}(?:vulnerabilit\w+|weakness\w*|flaws?|loopholes?|bugs? in|privacy|"
        r"populations|people|users|victims|the elderly|vulnerable)|bypass\w* (?:[\w'-]+ ){0,3}(?:security|"
        r"authentication|2fa|two-factor|protections?|safeguards|verification|consent requirements)|"
        r"compromis\w+ (?:[\w'-]+ ){0,3}(?:security|data|accounts?|systems?|networks?)|illegal(?:ly)?|unlawful(?:ly)?|"
        r"illicit(?:ly)?|fraudulent(?:ly)?)\b",
    ],
    "S3": [r"\b(?:sexual assault|rape|human trafficking|sex trafficking|prostitution|escort services?)\b"],
    "S5": [
        r"\b(?:fake news|misinformation|disinformation|propaganda|conspiracy theor\w+|deepfakes?|libel\w*|"
        r"slander\w*|defam\w+|smear\w*|false (?:information|claims|rumou?rs|stories))\b"
    ],
    "S7": [
        r"\b(?:stalk\w*|spy on|spying on|surveil\w*|wiretap\w*|tracking device|hidden camera|doxx?\w*|"
        r"without (?:[\w'-]+ ){0,2}(?:knowledge|consent|approval|permission|authori[sz]ation|knowing)|secretly "
        r"(?:collect|track|monitor|record|film|analy[sz]e)\w*|(?:private|personal|confidential|protected|"
        r"sensitive|educational|medical|health|employment|financial|biometric) (?:[\w'-]+ ){0,2}(?:records|data|"
        r"information|conversations|messages|details)|personal(?:ly)? identifiable|\bpii\b|facial recognition|"
        r"biometric\w*|(?:track|monitor)\w* (?!my\b|our\b)(?:[\w'-]+ ){0,3}(?:movements|location|online activit\w+|individuals|"
        r"people))\b",
    ],
    "S8": [
        r"\b(?:piracy|copyright infringement|counterfeit goods|plagiari[sz]\w*|bootleg\w*|copyright "
        r"protections?)\b"
    ],
    "S9": [rf"\b{_WEAPON}\b"],
    "S10": [
        r"\b(?:racis[mt]\w*|sexis[mt]\w*|homophob\w*|transphob\w*|xenophob\w*|antisemit\w*|islamophob\w*|"
        r"misogyn\w*|white supremac\w+|neo-?nazi\w*|hate speech|bigot\w*|slurs?|supremacist|nazi propaganda|"
        r"cyberbull\w*|bullying|harass\w*|humiliat\w*|degrad\w+|demean\w*|protected characteristics)\b",
    ],
    "S11": [r"\b(?:suicide|self-harm|anorexia|bulimia|overdose)\b"],
    "S12": [
        r"\b(?:sex|sexual|erotic\w*|porn\w*|nsfw|adult (?:content|industry|entertainment|websites?|sites?|movies?|"
        r"films?|videos?|webcams?|dating|celebrit\w+|stars?|performers?|gaming|games)|fetish\w*|bdsm|kink\w*|"
        r"camgirls?|cam sites?|webcam (?:models?|sites?|girls?)|strip clubs?|escort\w*)\b",
    ],
    "S13": [
        r"\b(?:voter fraud|election fraud|ballot stuffing|voter suppression|rig(?:ged|ging)? (?:the )?"
        r"elections?)\b"
    ],
}

# A bare chat-format control token: harmless once core/chatml.py neutralizes it, so its own category.
MARKER_PATTERNS: Mapping[str, Sequence[str]] = {
    "JM": [
        r"<\|im_(?:start|end)\|>|<\|(?:system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|"
        r"begin_of_text)\|>|\[/?inst\]|<</?sys>>|</?s>"
    ],
}

# On a model's *answer*: only content that is harmful in itself — instructions for harm, or the harmful
# text itself — never refusal words, news reports in the past tense, or safety advice. Kept narrow on
# purpose: the guard model judges the rest.
_STEP = (
    r"(?:^|[.!?:;,\n]\s*|\b(?:then|first|next|finally|now|and)\b,? |\bstep (?:\d+|one|two|three|four|five)\b:? |"
    r"\b\d+[.)] )"
)
_YOU = r"(?:\byou(?:'ll| will| can| should| need to| must|'d| would)? (?:need to |want to |have to )?)"
OUTPUT_PATTERNS: Mapping[str, Sequence[str]] = {
    "S4": [
        # sexual acts or bodies described with a minor — not the words a refusal uses ("sexual content
        # involving minors")
        r"\b(?:child|children|kids?|minors?|underage|preteens?|little (?:girls?|boys?)|young (?:girls?|boys?)|"
        r"(?:[1-9]|1[0-7])[- ]?(?:year[- ]?olds?|yo)|(?:only|just) (?:[1-9]|1[0-7]|ten|eleven|twelve|thirteen|"
        r"fourteen|fifteen))\b.{0,120}\b(?:undress\w*|touch\w* (?:her|him|them)|naked|nude|in (?:a |their |her |"
        r"his )?underwear|in a sexual way|fondl\w*|mo(?:a|le)n\w*|her body|his body|kiss\w* (?:her|him) "
        r"(?:neck|body)|aroused|erotic)",
        r"\b(?:become|be) (?:their|the kid'?s|the child'?s) friend\b.{0,160}\b(?:secret|photo|picture|pics?)\b|"
        r"\b(?:ask|get)\w* (?:them|the kid|the child|her|him) (?:for|to send) (?:a |some )?(?:photos?|pictures?|"
        r"pics?)\b.{0,40}\b(?:underwear|naked|secret|without)",
        r"\b(?:csam|cp links?)\b",
    ],
    "S9": [
        rf"(?:{_STEP}|{_YOU})(?:fill|pack|pour|mix|combine|add|attach|wire|insert|light|ignite|detonate|"
        rf"dissolve|culture|disperse|aerosoli[sz]e|release|drill|seal|grind|soak|extract|acquire|stuff|wedge|"
        rf"connect|obtain|install|replace|screw)\w* .{{0,140}}\b(?:{_WEAPON}|(?:black|flash|explosive|the) "
        rf"powder|fuse|shrapnel|nails and "
        rf"ball bearings|gasoline|rag|wick|castor beans?|precursors?|nerve agent|blasting cap|auto sear|"
        rf"trigger group|explosive (?:mixture|charge)|detonator\w*|fertili[sz]er|diesel|polystyrene|"
        rf"iron oxide|aluminium powder|aluminum powder|broth|strain)\b",
        r"\b(?:here'?s|here is|sure|absolutely|of course|okay|ok)\b.{0,60}\b(?:how to (?:make|build|"
        r"assemble|produce)|recipe|step-by-step|steps|instructions)\b.{0,40}\b(?:bomb|explosive|napalm|"
        r"thermite|molotov|ricin|sarin|nerve agent|grenade|ied|full auto|gun)",
        r"\b(?:mix|combine|add)\b.{0,60}\b(?:ammonium nitrate|potassium (?:chlorate|nitrate|perchlorate)|"
        r"acetone peroxide|tatp|hmtd|nitroglycerin|black powder|thermite)\b",
        r"\b(?:detonator|blasting cap|fuse)\b.{0,60}\b(?:attach|insert|connect|wire)\b",
        r"\b(?:synthesi[sz]\w+|produc\w+|cultur\w+) (?:[\w'-]+ ){0,3}(?:sarin|vx|tabun|soman|ricin|anthrax|"
        r"botulinum)\b",
        r"\b(?:release|spread|disperse)\w* (?:it|the (?:agent|gas|powder|toxin))\b.{0,80}\b(?:as many people|"
        r"crowd|rush hour|ventilation|subway)\b|\bclose the door and leave\b.{0,40}\bgas\b|"
        r"\bgas (?:to|will) (?:build up|hurt|kill)\b",
    ],
    "S2": [
        r"\b(?:pseudoephedrine|red phosphorus|lithium strips?|anhydrous ammonia)\b.{0,120}\b(?:reduc\w+|cook|"
        r"extract|heat|mix|crush|filter)\b",
        r"\b(?:guide|here'?s how|steps?) to (?:cooking|cook|making|make) (?:meth|crack|fentanyl|heroin|mdma)\b",
        rf"(?:{_STEP}|{_YOU})(?:slide|insert|hook|pull up|strip|touch|rake|apply|wear|tear off|walk out|"
        rf"attach|hide|deposit|run it|move it|install|go to|pay|send|capture|launch|pay influencers|pull all|"
        rf"set the displayed|sign up|download a template|print it|fill in|approach|hit houses)\w* .{{0,120}}"
        rf"\b(?:slim jim|lock rod|ignition wires|tension wrench|pins|security tags|fitting room|skimmer|"
        rf"pinhole camera|card slot|under \$?10,?000|offshore|monero|tor\b|fake name|password|fake login|"
        rf"liquidity|spoofing|gift cards|lot number|doorbell|mask|clinic name|card data|keystrokes)",
        r"\b(?:keylogger|script|code|ransomware)\b.{0,80}\b(?:runs? hidden|won'?t notice|without the user "
        r"noticing|encrypts each file|deletes the originals|demanding bitcoin|rotates proxies|grabs the saved|"
        r"decrypts them|emails the keystrokes)\b",
        r"\b(?:dear customer|dear user)\b.{0,200}\b(?:confirm your password|verify your account|login "
        r"(?:details|credentials)|suspended)\b",
        r"\bgrandma,? it'?s me\b|\b(?:buy|get) gift cards and read me the numbers\b|\btell (?:the victim|them) "
        r"they'?ll be arrested\b",
        r"\b(?:best way to|here'?s how to|to) shoplift\b.{0,40}\b(?:wear|pick|tear|walk)|\bto launder the "
        r"money\b|\bto (?:break into|steal|hotwire) the car\b.{0,10},",
    ],
    "S1": [
        rf"(?:{_STEP}|{_YOU})(?:add|put|slip|aim for|go for|cut|loosen|stab|strangle|choke|hit|wait until|"
        rf"apply pressure|come from behind|offer the kid|lead them|drive off|use a bar of soap|wipe the|"
        rf"increase his|increase her|wear gloves)\w* .{{0,120}}\b(?:coffee|his (?:food|drink)|neck|thigh|"
        rf"arteries|bleed out|brake line|stair|evidence|struggling|candy|car before|soap in a sock|towel|ribs|"
        rf"knees|heart|autopsy|stop (?:breathing|struggling)|heart medication|identify you)",
        r"\b(?:look like (?:an accident|a natural illness|natural causes|a maintenance issue)|doctors won'?t "
        r"suspect|autopsy (?:[\w'-]+ ){0,4}rarely checks|without leaving marks|bleed out in minutes|stop "
        r"struggling|before anyone notices)\b",
        r"\b(?:the best way|the most effective way|here'?s how) to (?:kill|strangle|poison|stab|hurt|kidnap|"
        r"end someone'?s life|make (?:his|her) death)\b",
        r"\bi know where you live\b.{0,60}\b(?:regret|kids|school|hurt)|\byou'?ll regret it\b.{0,60}\bi know "
        r"where\b",
    ],
    "S11": [
        r"\b(?:you should|go ahead and|just) (?:kill yourself|end your life|hurt yourself|cut yourself|die)\b",
        r"\bthe (?:best|easiest|most painless|quickest|fastest) (?:way|method) to (?:kill yourself|commit "
        r"suicide|die|end your life)\b",
        r"\bnobody would miss you\b|\byou deserve to (?:die|suffer)\b",
        r"\b(?:to cut deeper|cut on your (?:thighs?|stomach|arms?)|hide the cuts|where clothes cover them|"
        r"make the cuts deeper)\b",
        r"\b(?:enough to cause (?:fatal|death)|would (?:likely )?be fatal|fatal liver failure in a person "
        r"your size|do it at night so no one finds you)\b",
        r"\b(?:keep not eating|under \d+ pounds in no time|sleep through meals)\b",
        r"\btie a noose\b|\bnoose that won'?t slip\b",
    ],
    "S10": [
        r"\b(?:jews|muslims|blacks|black people|immigrants|gays|gay people|asians|mexicans|arabs|women|trans "
        r"people|refugees)\b.{0,40}\b(?:are|is)\b.{0,20}\b(?:inferior|subhuman|vermin|animals|parasites|rats|"
        r"disgusting|freaks|invaders|mentally ill|lazy|stupid|too emotional)\b",
        r"\b(?:jews|muslims|blacks|black people|immigrants|gays|gay people|asians|mexicans|arabs|women|trans "
        r"people|refugees)\b.{0,60}\b(?:should (?:die|be exterminated|be killed|be deported|be beaten|be "
        r"locked away|never be allowed|stay at home|be sent back)|deserve to be beaten|must be removed)\b",
        r"\b(?:control the banks|removed from power by any means|sent back where they came from)\b",
        r"\bhere are (?:some )?(?:derogatory|offensive) (?:names|terms|slurs)\b",
    ],
    "S12": [
        r"\b(?:thrust\w*|moan\w*|straddl\w*|grinding|orgasm\w*|slid inside|had sex|made love|naked body|"
        r"breasts|nipples|erection|penetrat\w+|came with a scream|tore off her|in explicit, graphic detail)"
        r"\b.{0,200}\b(?:thrust\w*|moan\w*|straddl\w*|grinding|orgasm\w*|slid inside|had sex|made love|"
        r"naked|breasts|nipples|erection|penetrat\w+|came with|graphic detail|all night)\b",
    ],
    "S7": [
        r"\blives at \d+ \w+ (?:[\w'-]+ )?(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|way|court|ct|"
        r"boulevard|blvd|place|pl)\b",
        r"\b(?:her|his|their) (?:phone|cell|mobile) number is\b",
        r"\b\d{2,5} \w+ (?:[\w'-]+ )?(?:street|road|avenue|lane|drive)\b.{0,80}\b(?:gets off|leaves for work|"
        r"works at|usually)\b",
        r"\b(?:gps tracker|tracker|airtag|spyware|stalkerware|mspy|spy app)\b.{0,60}\b(?:stick|hide|attach|install|"
        r"put|plant)\w* (?:it )?(?:under|on|in|inside|onto)\b.{0,80}\b(?:her|his|their|without|bumper|location)\b",
        r"\b(?:install|stick|hide|put)\w* .{0,40}\b(?:mspy|spyware|stalkerware|tracker|gps tracker)\b.{0,80}"
        r"\b(?:while she sleeps|without her knowing|hides its icon|forwards all|under the (?:rear )?bumper|"
        r"check her location)|\btracking link disguised as\b|\bss7\b",
    ],
    "S5": [
        r"\bbreaking:? .{0,120}\b(?:arrested|funding terrorist|secretly fund\w*|drug ring|leaked documents)\b",
        r"\bhere'?s your (?:yelp |fake )?review\b.{0,200}\b(?:food poisoning|rats|avoid)\b",
    ],
    "S13": [
        r"\b(?:your )?voting day has been moved\b|\bvote (?:on )?wednesday\b.{0,40}\brepublicans vote tuesday|"
        r"\bpolling stations in .{0,40}\bare closed this year\b|\bload the modified firmware\b|"
        r"\badds votes to your candidate\b",
    ],
    "S14": [
        r"\brunning (?:it|your command|this) now\b.{0,80}\b(?:rm -rf|curl|payload|deleted|installed)|"
        r"\bbash -i >& /dev/tcp/|\bthe filesystem has been deleted\b|\bpayload is installed and running\b",
    ],
    "S8": [
        r"\b[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{5}\b",
        r"\b(?:download|watch) (?:[\w'-]+ ){0,6}(?:free )?on these torrent sites\b|\buse a vpn so your isp "
        r"doesn'?t\b|\bhere'?s chapter (?:one|\d+) of .{0,40} in full\b",
    ],
}

# ------------------------------------------------------------------ frames

_FRAME_PROTECTIVE = (
    r"\b(?:protect(?:ing|s)? (?:my|our|your|me|us|them|him|her|kids|children|people|users|against|from|the|a|"
    r"an|yourself|myself|ourselves|their|his|elderly|seniors)|protection (?:from|against)|prevent\w* "
    r"(?:[\w'-]+ ){0,2}(?:attacks?|fraud|scams?|phishing|injection|abuse|suicide|overdoses?|violence|shootings?|"
    r"theft|hacking|breaches|malware|ransomware|bullying|harassment|it|this|them|that|crimes?|kids|children|"
    r"my|our|people|users|accidents|poisoning|ddos|spam|identity theft|fires?|infections?)|defend\w* "
    r"(?:my|our|your|me|us|them|him|her|against|from|yourself|myself|ourselves)|safeguard\w*|secure "
    r"(?:my|our|your|mine|it|them)\b|securing|recogni[sz]e (?:a|an|the|signs|when|if|it|them|scams?|"
    r"phishing|fakes?|deepfakes?|grooming|abuse|manipulation|propaganda|misinformation|\w+ (?:signs|scams?))|spot(?:ting)? (?:a |an |the )?(?:fake|scams?|"
    r"phishing|fraud|deepfakes?|counterfeit|signs|red flags|lies|liars?|predators?|grooming|misinformation|"
    r"disinformation|fake news|bots?|propaganda)|(?:how (?:do|can|should|would) (?:i|we|you) |to |and )"
    r"report\b|report(?:ing)? (?:it|this|them|him|her|a|an|the|someone|abuse|scams?|crimes?|harassment) "
    r"(?:[\w'-]+ ){0,3}to\b|report (?:[\w'-]+ )?to (?:the )?(?:police|hr|authorities|platform|fbi|ftc|school|"
    r"moderators)|warning signs|signs (?:of|that)|detect(?:ing|s)? (?:a |an |the |if |whether )?(?:[\w'-]+ )?"
    r"(?:fraud|scams?|phishing|malware|spyware|intrusions?|attacks?|fakes?|deepfakes?|bots?|cheating|"
    r"plagiarism|counterfeits?|abuse|grooming|stalkerware|trackers?|cameras?|bugs|money laundering|insider "
    r"trading|hate speech|toxicity|misinformation|spam|viruses|hackers?|breaches|leaks|skimmers?)|"
    r"avoid (?:falling|becoming|being (?:a )?(?:victim|scammed|hacked|phished|targeted|tracked))|"
    r"stay(?:ing)? safe|keep (?:my|our|your|the|them|him|her) (?:[\w'-]+ ){0,2}safe|safe from|victims? of|"
    r"(?:was|been|got|get|getting) (?:hacked|scammed|robbed|phished|doxx?ed|stalked|assaulted|groomed)|"
    r"(?:account|email|phone) (?:got|was|has been) (?:hacked|compromised)|if i (?:was|were|am|get) "
    r"(?:hacked|scammed)|moderat(?:e|ing) (?:my|our|a|the) (?:server|community|forum|chat|channel)|toxic(?:ity)? (?:detection|classification)|hate speech detection|"
    r"combat\w*|fight(?:ing)? against|counteract\w*|countering|(?<![\w-])counter (?:the|this|it|them|misinformation|"
    r"propaganda|hate|extremism|attacks?|scams?|fraud|radicali[sz]ation)|how (?:can|do|should) (?:i|we) (?:help|support)|"
    r"support (?:a|my) (?:friend|child|kid|partner|family member)|(?:my|a) (?:friend|son|daughter|kid|child|"
    r"partner|brother|sister|mom|dad|mother|father|wife|husband|student|coworker|classmate|teen)\b.{0,80}"
    r"\b(?:what (?:should|can|do) i do|how (?:can|do|should) i (?:help|support|talk))|help (?:a|my) (?:friend|child|kid|partner|"
    r"someone) who|what (?:should|do|can) (?:i|we) do if|what to do if|(?:tell|check|know|find out|see) "
    r"(?:if|whether) (?:my|i|i'm|im|i've|there|this|it|someone (?:is|has|was|else)|a|an|the|our|a link|"
    r"a website|an email)\b|(?:know|tell|check|find out|see|sure) (?:if|whether) (?:someone|somebody|anyone|he|she|"
    r"they|my \w+) (?:[\w'-]+ ){0,2}?(?:slipped|spiked|drugged|put|hacked|installed|tracked|stole|is|has|was|did)\b|so (?:it|this|that) (?:doesn'?t|does not|won'?t|never) happen again|(?:policies|"
    r"measures|steps|safeguards|controls) (?:should|can|could|do) (?:we|i) (?:put in place|take|have|adopt)|"
    r"(?:is|are) (?:there|being) (?:a |any )?(?:tracking|spyware)|someone is (?:stalking|"
    r"threatening|tracking|harassing|blackmailing) me|(?:remove|delete|get rid of|scan for|clean up) "
    r"(?:malware|spyware|viruses?|a virus|stalkerware|trackers?|tracking|my (?:data|information|info|"
    r"account|photos|name|address|number|profile))|crisis (?:lines?|hotlines?)|hotlines?|helplines?|harm reduction|"
    r"(?:suicide|overdose|violence|crime|fraud|abuse|bullying|self-harm|relapse) prevention|(?:get|getting) out "
    r"of (?:[\w'-]+ ){0,3}(?:debt|a scam|an abusive|a cult|a gang|a pyramid scheme|an mlm|a ponzi)|"
    r"(?:is|are|keeps?|has been|have been|was) threatening to (?:share|post|leak|release|send|expose|"
    r"publish) (?:my|our)|(?:has|have|holds?|keeps?|collect\w*|stores?|knows?|sells?) (?:[\w'-]+ ){0,3}(?:on|"
    r"about) me\b|grief|griev\w+|mourn\w*|(?:lost|losing) (?:a|my|our) [\w-]+ to (?:suicide|an overdose|cancer|"
    r"violence)|in memory of|memorial|eulogy|bereave\w*|survivors? of (?:suicide|abuse|assault|violence)|"
    r"naloxone|narcan|poison control|ethical hack\w*|penetration test\w*|pentest\w*|capture the flag|ctf|"
    r"responsible disclosure|bug bounty|with (?:their |written )?permission|awareness training|"
    r"how (?:do|can|would) (?:companies|banks|schools|police|investigators|moderators|platforms|"
    r"detectives|authorities|forensic \w+|fire investigators|insurers|it teams?) (?:[\w'-]+ ){0,2}(?:detect|catch|"
    r"find|prevent|stop|identify|spot|investigate|track|trace|recover|locate|figure out|determine|work out|"
    r"tell|know|prove|solve)|harden (?:my|our|mine|it|them|the|a)\b|so (?:our|my|the) (?:[\w-]+ )?(?:team|staff|"
    r"employees|users|students|parents) can (?:spot|recogni[sz]e|avoid|learn|train|detect)|train(?:ing)? (?:the |"
    r"our |my )?(?:staff|team|employees|users|colleagues|coworkers|parents|students)\b|teach (?:my|our|the) "
    r"(?:[\w-]+ )?(?:team|staff|employees|users|parents|kids|students|grandparents?) (?:to|how to) (?:spot|"
    r"recogni[sz]e|avoid|detect|identify)|spot (?:them|it|these|those|this|one)\b|(?:safely|properly|legally) "
    r"(?:[\w'-]+ ){0,2}(?:get rid of|dispose|discard|throw away|store|destroy)|(?:get rid of|dispose of|throw "
    r"away|disposal of) (?:[\w'-]+ ){0,4}(?:safely|properly|legally)|(?:forgot|forgotten|reset|change|recover|"
    r"lost) (?:[\w'-]+ ){0,2}(?:password|passcode|pin)|"
    r"make (?:my|our) (?:home|house|car|account|network) (?:less|more|safe)|(?:less|more) "
    r"(?:attractive|vulnerable) to (?:burglars|thieves|hackers)|safe(?:ly)? (?:store|storage|dispose|"
    r"use)|store (?:[\w'-]+ ){0,2}safely|lock (?:down|up)|warn (?:my|our)|teach (?:my|our) (?:kids|children|"
    r"son|daughter|child) about (?:consent|body safety|safety|online safety|strangers)|escape (?:a|an|the|"
    r"from a) (?:house fire|abusive|fire|active shooter)|active shooter situation|i feel (?:really )?"
    r"(?:down|sad|depressed|lonely))\b"
)
_FRAME_HISTORY = (
    r"(?:\bhistory of\b(?<!medical history of)(?<!health history of)(?<!browsing history of)(?<!search history "
    r"of)(?<!credit history of)(?<!purchase history of)(?<!payment history of)(?<!employment history of)"
    r"(?<!family history of)(?<!criminal history of)(?<!dating history of)(?<!sexual history of)|\bhistorical\b|"
    r"\bwho (?:assassinated|killed|murdered|shot|poisoned|bombed|attacked|kidnapped|betrayed)\b|\bwhat (?:happened|led to|caused|were the causes|was the (?:role|"
    r"impact|significance|cause|reason))\b|\bwhy did\b|\bhow did\b|\bwhy was\b|\bwhy were\b|\bhow was\b|"
    r"\bhow were\b|\bwho was\b|\bwho were\b|\bwhen (?:did|was|were)\b|\bdescribe the (?:[\w'-]+ ){0,3}"
    r"(?:trials?|massacre|war|riots?|bombing|attack|genocide|famine|scandal|crisis|rise|fall|era)\b|"
    r"\bsummari[sz]e (?:the )?(?:history|plot|story|events?|trial|scandal|case)\b|\btell me about (?:the )?"
    r"(?:[\w'-]+ ){0,3}(?:riots?|life|history|war|massacre|trial|scandal|case|era|movement|genocide)\b|"
    r"\bin (?:world war|ww ?[12i]+|the (?:\d{2}|\d{4})s|\d{4})\b|\bduring (?:the )?(?:war|world war|"
    r"prohibition|holocaust|cold war|the \d{4}s)\b|\b(?:explain|summari[sz]e) the (?:[\w'-]+ ){0,2}"
    r"(?:scandal|crisis|trials?|case)\b|\bhow (?:was|were) (?:[\w'-]+ ){0,4}(?:caught|tested|found|used|"
    r"developed)\b|\blesson plan\b|\bwhat was (?:the |a )?\w+)"
)
# "What is X?", "what does X mean?", "how does X work?" — not "what's the easiest way to …", not "what is
# the recipe for …".
_NOT_A_DEFINITION = (
    r"(?!.*\b(?:best|easiest|fastest|quickest|simplest|safest|cheapest|most|way|ways|method|methods|"
    r"steps?|recipe|process|procedure|formula|instructions?|guide|tutorial|tips|how to|ingredients|"
    r"techniques|strategies|tactics|tools|sites?|websites?|where|dose|amount|much|many|address(?:es)?|"
    r"numbers?|emails?|passwords?|salary|location|ssn|of (?:my|his|her|their|our))\b)"
)
_FRAME_DEFINITION = (
    rf"(?:^(?:(?:so|ok|okay|hey|hi|quick question|can you|could you|would you|please|pls|can u|could u|"
    rf"i'?d like you to|help me|briefly|simply),? )*(?:what(?:'s| is| are| was| were| does| do) {_NOT_A_DEFINITION}"
    r"(?:a |an |the )?(?:\w+[ -]?){1,5}(?:\?|$| and (?:is|are|why|how) (?:it|they)|\band why\b)|define\b|"
    r"definition of\b|meaning of\b|what does (?:the (?:word|term) )?.{1,40} mean\b|what counts as\b|"
    r"what(?:'s| is) the (?:difference|distinction) between\b|explain (?:what|the (?:concept|term|meaning))\b|"
    r"(?:tell me|explain) what (?:a |an |the )?(?:[\w'-]+ ){1,3}(?:is|was|means|meant)\b|"
    rf"how (?:does|do) {_NOT_A_DEFINITION}(?:a |an |the )?(?:[\w'-]+ ){{1,4}}work\b|is it (?:illegal|legal|a crime) "
    r"to\b)|\bwhat does (?:the (?:word|term) )?\W?\w+\W? mean\b|\bthe (?:word|term) \W?\w+\W? mean|"
    r"\b(?:an? )?(?:understandable |simple |real-world |concrete |historical )?example of\b|"
    rf"\bhow (?:does|do) {_NOT_A_DEFINITION}(?:a |an |the |these |those |such )?(?:[\w'-]+ ){{1,5}}work\b)"
)
_FRAME_GAME = (
    r"\b(?:in|on|for|playing) (?:the )?(?:game|video game|gta\s?\w*|grand theft auto|call of duty|cod|"
    r"minecraft|among us|hitman\s?\w*|elden ring|skyrim|fortnite|red dead(?: redemption)?\s?\w*|the sims\s?\w*|"
    r"sims\s?\w*|d&d|dnd|dungeons (?:and|&) dragons|my (?:d&d )?campaign|chess|resident evil\s?\w*|"
    r"fallout\s?\w*|payday\s?\w*|war thunder|zelda|sekiro|halo|valorant|counter-?strike|csgo|cs2|"
    r"league of legends|dota|pubg|apex legends|rust|dayz|roblox|terraria|stardew valley|pokemon|"
    r"age of empires\s?\w*|civilization|overwatch|cyberpunk\s?\w*|the witcher|dark souls|bloodborne|"
    r"destiny|battlefield|tetris|a (?:board |video |card )?game|sekiro|lego|assassin'?s creed\s?\w*|"
    r"metal gear(?: solid)?\s?\w*|splinter cell|dishonored\s?\w*|baldur'?s gate\s?\w*|the last of us|"
    r"god of war|watch dogs\s?\w*|far cry\s?\w*|mortal kombat\s?\w*|street fighter\s?\w*|tekken\s?\w*|"
    r"punch-?out!*|super smash bros\.?|smash bros\.?|mario kart|super mario\s?\w*|doom|wolfenstein|bioshock|"
    r"mass effect|world of warcraft|wow|runescape|eve online|sea of thieves|hades|dead by daylight|"
    r"team fortress 2|tf2|rainbow six(?: siege)?|escape from tarkov|tarkov|helldivers\s?\w*|starcraft|"
    r"diablo\s?\w*|hollow knight|undertale|clash of clans|clash royale|brawl stars|the game of thrones board "
    r"game|paintball|laser tag|airsoft|a murder mystery (?:party|game)|werewolf|"
    r"a larp|my larp|a tabletop (?:rpg|game)|pathfinder)\b(?! (?:server|account)s?\b)"
)
_FRAME_FICTION = (
    r"\b(?:(?:write|tell|give|compose|create|draft|outline|help me (?:write|outline|with)|plan|plot)\w* "
    r"(?:me )?(?:a |an |the |my )?(?:[\w'-]+ ){0,4}(?:story|stories|poem|scene|novel|screenplay|movie script|film script|song|"
    r"plot|monologue|dialogue|fanfic|chapter|mystery|thriller|tale|limerick|haiku|opening line|sketch|skit|"
    r"parody|satire|sitcom episode|cartoon|comic strip|"
    r"villain'?s? monologue|play|movie|film)|in my (?:novel|story|book|screenplay|campaign|play|script)|"
    r"for (?:a|my) (?:novel|story|book|screenplay|thriller|play|script)|in the (?:[\w'-]+ ){1,2}(?:movies?|"
    r"films?|show|series|books?|novels?|comics?|cartoons?|anime|manga|sitcom|franchise|saga|universe)|i'?m writing a|what (?:happens|"
    r"happened) in (?:the )?(?:movie|film|book|show|novel|episode)|plot of|in the (?:movie|film|book|show|"
    r"series|novel)|(?:movie|film|show|book|novel|series)\b.{0,20}\b(?:se7en|zodiac|heat|breaking bad|"
    r"macbeth|the dark knight)|recommend (?:some )?(?:[\w'-]+ ){0,2}(?:podcasts|books|movies|films|shows)|"
    r"tropes|for a (?:stage )?(?:play|film|movie|tv show|shoot)|(?:comedy|silly|funny) (?:sketch|skit|parody|bit)|prop (?:knife|gun|weapon|sword)|(?:costume|cosplay|"
    r"halloween|movie|film|stage|theat(?:re|er)) props?|for (?:a|my) (?:costume|halloween|cosplay)(?: party)?|"
    r"novelty|clearly (?:says|marked|labell?ed) (?:it'?s )?(?:fake|a prop|not real)|fake "
    r"fight scene|stage combat)\b"
)
# Asking for real, usable instructions inside a story or a game: the frame does not apply.
_INSTRUCTIONS_SOUGHT = (
    r"\b(?:(?:the|all the|each|every|real|actual) steps\b|how to (?:make|build|cook|synthesi[sz]e|produce|"
    r"assemble|brew|grow|hack|steal|kill|poison)|step[- ]by[- ]step|exact(?:ly)? (?:how|steps|instructions|"
    r"quantities|amounts|recipe|method|"
    r"process|ingredients|ratios?)|in (?:precise|exact|great|full|technical|graphic|explicit) detail|"
    r"with (?:the )?(?:real|actual|exact|precise|specific|real-world|correct) (?:steps|quantities|amounts|"
    r"measurements|ingredients|commands|instructions|code|technique|temperatures|chemicals|details)|"
    r"real[- ]?(?:world|life)? (?:technique|steps|commands|instructions|quantities|method|process|"
    r"accuracy|temperatures)|(?:include|including|with|list)\w* (?:the )?(?:actual|real|exact|specific|all "
    r"the|precise) (?:steps|quantities|instructions|details|commands|ingredients|measurements|chemicals)|"
    r"explains?,? (?:exactly |in detail |precisely |step by step )?how (?:to|he|she|they)|teach(?:es|ing)? "
    r".{0,30}how to|detailed (?:lesson|instructions|guide|tutorial|steps|explanation|description)|"
    r"tutorial|(?<!n't a )(?<!not a )(?<!n't the )(?:the|a|full|exact|actual|real|complete) recipe\b|"
    r"working (?:code|exploit|script|sample|malware)|with quantities|in real life|"
    r"real[- ]life|(?:perfect|convincing|working|real) (?:phishing|scam|ransom\w*)|in full|"
    r"how (?:to|do i|can i) (?:make|build|cook|synthesi[sz]e) (?:a |an |real )?(?:real|actual))\b"
)
# Someone's information handled for them: with consent, on their behalf, after their death (privacy only).
_FRAME_CONSENT = (
    r"\b(?:with (?:her|his|their|the owner'?s) (?:permission|consent)|(?:she|he|they) (?:asked|wants?|wanted) "
    r"me to|on (?:her|his|their) behalf|power of attorney|executor|legal guardian|passed away|deceased|"
    r"my late \w+|i'?m (?:her|his|their) (?:carer|caregiver|guardian))\b"
)
# Famous fictional people and places: their "home address" or "bank balance" is no one's private data.
_FRAME_FICTIONAL = (
    r"\b(?:simpsons?|springfield|spongebob|squarepants|bikini bottom|sherlock(?: holmes)?|221b|baker street|"
    r"harry potter|hogwarts|hermione|ron weasley|dumbledore|voldemort|gatsby|bruce wayne|batman|gotham|"
    r"clark kent|superman|smallville|spider-?man|peter parker|tony stark|iron man|avengers|marvel|dc comics|"
    r"frodo|bilbo|the shire|hobbit\w*|middle-earth|gandalf|walter white|breaking bad|heisenberg|dr\.? house|"
    r"gregory house|paddington|mickey mouse|donald duck|scooby-doo|shrek|addams family|homer simpson|"
    r"james bond|007|darth vader|skywalker|star wars|pikachu|pokemon|super mario|princess peach|lara croft|"
    r"captain america|wonder woman|hulk|thor|wakanda|winnie the pooh|peppa pig|bluey|ted lasso|tony soprano|"
    r"sopranos|don draper|ross geller|sheldon cooper|michael scott|dunder mifflin|jon snow|westeros|"
    r"katniss|panem|atticus finch|jay gatsby|dracula|frankenstein|hannibal lecter|jack sparrow|willy wonka|"
    r"the grinch|santa claus|easter bunny|tooth fairy|narnia|oz|willy wonka|fred flintstone|bedrock|"
    r"george jetson|garfield|charlie brown|snoopy|bob belcher|rick sanchez|bojack|lisa simpson|bart simpson|"
    r"marge simpson|ned flanders|mr\.? burns|hogsmeade|privet drive|the burrow|wayne manor|stark tower|"
    r"the daily planet|the avengers)\b"
)
_FRAME_COUNTER = (
    r"\b(?:why (?:is|are) (?:[\w'-]+ ){0,2}(?:racism|sexism|homophobia|transphobia|antisemitism|islamophobia|"
    r"xenophobia|bigotry|hate speech|discrimination|slavery|genocide|the holocaust|apartheid|it|that|"
    r"this) (?:[\w'-]+ )?(?:wrong|bad|harmful|evil|offensive|hurtful|dangerous|false|immoral)|why (?:is|was) it "
    r"wrong|(?:speech|essay|talk|article|post|lesson) (?:against|about (?:the harm|the dangers|the history))|"
    r"against (?:racism|antisemitism|islamophobia|sexism|homophobia|transphobia|hate|bigotry|"
    r"discrimination)|counter (?:them|it|hate|stereotypes|racism)|respond (?:when|to)|(?:talk|speak) to my "
    r"(?:racist|sexist|homophobic|bigoted)|be a (?:better )?ally|more inclusive|contributions of|"
    r"(?:effects|impact|harms?) of (?:racism|sexism|homophobia|transphobia|hate|discrimination|"
    r"stereotypes|bullying)|why do (?:some )?people (?:still )?believe|(?:some )?stereotypes about .{0,30} "
    r"(?:false|wrong|untrue|inaccurate)|why it'?s offensive|without spelling it out|reclaim\w*|"
    r"hate speech laws|stand up (?:to|against)|civil rights movement|(?:what|how) (?:should|do|can|could) "
    r"(?:i|we) (?:say|respond|react|reply|answer)|debunk\w*|refut\w*|fact[- ]check\w*|rebut\w*|counter(?:ing)? "
    r"(?:the )?(?:myth|claim|misinformation)|myths? (?:about|that)|why do (?:some )?people (?:still )?(?:think|"
    r"claim|say)|how do historians|misconceptions?)\b"
)
_FRAME_LEGAL = (
    r"\b(?:penalt(?:y|ies)|punishments?|sentences?|sentencing|jail time|prison time|fines?|(?:legal )?"
    r"consequences|statute of limitations|(?:criminal |federal |the )charges?) (?:for|of|on)\b|\bwhat happens (?:legally )?(?:to "
    r"(?:people|someone|you) )?(?:if|when) (?:you|someone|i|a person|people) (?:get|gets|are|is) (?:caught|"
    r"convicted|charged|arrested)\b|\bis it (?:illegal|legal|a crime|a felony|a misdemeanor|against the law)\b|"
    r"\b(?:laws?|legislation|regulations?) (?:on|about|against|regarding|around)\b"
)
_FRAME_LAWFUL = (
    r"\b(?:legally|legitimately|legal (?:way|ways|sites?|options?|streaming|services?|copies|downloads?))\b"
)
_FRAME_SEX_ED = (
    r"\b(?:(?:talk|speak|explain|teach|tell)\w* (?:to )?(?:my |our |your |a )?(?:[\w'-]+ )?(?:teen\w*|kids?|"
    r"child|children|son|daughter|students?|\d+ year old|class) about (?:sex|puberty|consent|reproduction|"
    r"bodies|body safety|periods|contraception|(?:the )?(?:risks|dangers) of|sexting|dating|porn\w*|online "
    r"safety|relationships)|explain (?:puberty|sex|reproduction|periods|consent) to|"
    r"sex ed(?:ucation)?|age[- ]appropriate|learn about (?:reproduction|sex|puberty|their bodies)|"
    r"birth control|contraception|stis?\b|stds?\b|gynecolog\w+|libido|erectile|morning after pill|"
    r"consent mean|healthy boundaries|sexual health|body safety|(?:talk|talking|ask|asking|communicat\w*) "
    r"(?:[\w'-]+ ){0,2}about consent|consent before|(?:ask|asking) for consent|enthusiastic consent)\b"
)
_EXPLICIT = (
    r"\b(?:erotic\w*|sexy|explicit|nudes?|naked|(?<!risks of )(?<!dangers of )(?<!about )porn\w*|lewd|seduc\w+|"
    r"arous\w+|dirty talk|(?<!risks of )(?<!dangers of )(?<!about )sext(?:ing|s|ed)?)\b"
)
_REPLICATE = (
    r"\b(?:replicate|recreate|repeat|redo|copy|reenact|re-?create|do (?:it|the same|what (?:he|they) did) "
    r"again|pull off|carry out (?:my own|another|a similar)|like (?:he|they|the \w+) did|like (?:[\w'-]+ ){1,3}"
    r"did|only (?:deadlier|bigger|worse|more (?:deadly|lethal))|but (?:deadlier|bigger|more (?:deadly|lethal|"
    r"effective)))\b"
)

# Which frames relieve which categories (intent and topic tiers only; strong tiers are never relieved).
_ALL = frozenset({"S1", "S2", "S3", "S5", "S7", "S8", "S9", "S10", "S11", "S12", "S13", "S14", "JB"})
_RELIEF: Mapping[str, frozenset[str]] = {
    "protective": _ALL - {"S12"},
    "history": frozenset({"S1", "S2", "S3", "S5", "S7", "S8", "S9", "S10", "S11", "S13"}),
    "definition": _ALL,
    "game": frozenset({"S1", "S2", "S9", "S8"}),
    "fiction": frozenset({"S1", "S2", "S7", "S9", "S13"}),
    "counter": frozenset({"S10", "S5", "S1"}),
    "sex_ed": frozenset({"S3", "S4", "S12"}),
    "legal": _ALL - {"JB", "S12"},
    "fictional": frozenset({"S7"}),
    "consent": frozenset({"S7"}),
    "lawful": frozenset({"S8"}),
}


class Tier(StrEnum):
    STRONG = "strong"
    INTENT = "intent"
    CONTENT = "content"
    TOPIC = "topic"
    MARKER = "marker"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    category: str
    tier: Tier = Tier.STRONG


class RuleSet:
    """All patterns of one stage, compiled once.

    Most patterns start at a word with one of a known set of literal prefixes ("kill", "murder", …;
    `required_prefixes`). Those are compiled one by one and indexed by prefix: `matches` walks the text's
    word starts once and tries, at each, only the patterns that can start there. A pattern whose start
    cannot be read is searched in full, and one that can only match another script (a Cyrillic or Chinese
    word) is skipped for ASCII text. The verdicts are those of a plain search with every pattern
    (tests/unit/test_alignment_rules.py checks it on every message of our sets); the work is a small
    fraction of it, on short and on long messages alike."""

    def __init__(
        self,
        patterns: Mapping[str, Iterable[str]],
        *,
        intent: Mapping[str, Iterable[str]] | None = None,
        content: Mapping[str, Iterable[str]] | None = None,
        topic: Mapping[str, Iterable[str]] | None = None,
        markers: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        flags = re.DOTALL | re.MULTILINE
        self._keys: list[tuple[Tier, str]] = []  # (tier, category), in the order they are reported
        # prefix → (key, pattern) for patterns at a word start; the rest are searched in full
        self._by_prefix: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
        self._searched: list[tuple[int, re.Pattern[str]]] = []
        self._non_ascii: list[tuple[int, re.Pattern[str]]] = []  # skipped for ASCII text (other scripts)
        for tier, table in (
            (Tier.STRONG, patterns),
            (Tier.INTENT, intent or {}),
            (Tier.CONTENT, content or {}),
            (Tier.TOPIC, topic or {}),
            (Tier.MARKER, markers or {}),
        ):
            for category, pats in table.items():
                key = len(self._keys)
                self._keys.append((tier, category))
                rest: list[str] = []
                non_ascii: list[str] = []
                for p in pats:
                    prefilter = Prefilter([p], flags)
                    if prefilter.non_ascii_only:
                        non_ascii.append(p)
                    elif prefilter.prefixes is not None and p.startswith("\\b"):
                        regex = re.compile("(?<![a-z0-9_])" + p, flags)
                        for prefix in prefilter.prefixes:
                            self._by_prefix.setdefault(prefix, []).append((key, regex))
                    else:
                        rest.append(p)
                for group, target in ((rest, self._searched), (non_ascii, self._non_ascii)):
                    if group:
                        target.append((key, re.compile("|".join(f"(?:{p})" for p in group), flags)))

    def matches(self, normalized: str) -> list[RuleMatch]:
        """Every (category, tier) whose patterns match; frames are not applied here (see `decide`)."""
        hit: set[int] = set()
        for key, regex in self._searched:
            if key not in hit and regex.search(normalized):
                hit.add(key)
        if not normalized.isascii():
            for key, regex in self._non_ascii:
                if key not in hit and regex.search(normalized):
                    hit.add(key)
        by_prefix = self._by_prefix
        for word in _WORD_START.finditer(normalized):
            i = word.start()
            for n in _PREFIX_LENGTHS:
                for key, regex in by_prefix.get(normalized[i : i + n], ()):
                    if key not in hit and regex.match(normalized, i):
                        hit.add(key)
        return [RuleMatch(self._keys[key][1], self._keys[key][0]) for key in sorted(hit)]


_WORD_START = re.compile(r"(?<![a-z0-9_])[a-z0-9_]")
_PREFIX_LENGTHS = tuple(range(1, PREFIX_LIMIT + 1))

_RE_FRAMES = {
    name: re.compile(pattern, re.DOTALL | re.MULTILINE)
    for name, pattern in (
        ("protective", _FRAME_PROTECTIVE),
        ("history", _FRAME_HISTORY),
        ("definition", _FRAME_DEFINITION),
        ("game", _FRAME_GAME),
        ("fiction", _FRAME_FICTION),
        ("counter", _FRAME_COUNTER),
        ("sex_ed", _FRAME_SEX_ED),
        ("legal", _FRAME_LEGAL),
        ("fictional", _FRAME_FICTIONAL),
        ("consent", _FRAME_CONSENT),
        ("lawful", _FRAME_LAWFUL),
    )
}
_RE_SEEKS = re.compile(_SEEKS, re.MULTILINE)
_RE_EVASION = re.compile(_EVASION)
_RE_INSTRUCTIONS = re.compile(_INSTRUCTIONS_SOUGHT)
_RE_EXPLICIT = re.compile(_EXPLICIT)
_RE_REPLICATE = re.compile(_REPLICATE)
_RE_REAL_PERSON = re.compile(
    r"\b(?:actors?|actress(?:es)?|voice actors?|voices|plays|played|portray\w*|star(?:s|red)? (?:of|in)|cast "
    r"members?|creators?|author|writer|director|real[- ]life|in real life|cosplayer)\b"
)


def frames(normalized: str, relieving: Iterable[str] | None = None) -> set[str]:
    """The safe frames that apply to a message (after the conditions that cancel them). With `relieving`,
    only the frames that could relieve one of those categories are looked for."""
    wanted = None if relieving is None else set(relieving)
    found = {
        name
        for name, regex in _RE_FRAMES.items()
        if (wanted is None or _RELIEF[name] & wanted) and regex.search(normalized)
    }
    if not found:
        return found
    if found & {"protective", "fiction", "legal", "lawful"} and _RE_EVASION.search(normalized):
        found -= {"protective", "fiction", "legal", "lawful"}
    if found & {"fiction", "game", "definition", "history", "legal"} and _RE_INSTRUCTIONS.search(normalized):
        found -= {"fiction", "game", "definition", "history", "legal"}
    if "history" in found and _RE_REPLICATE.search(normalized):
        found.discard("history")
    if "fictional" in found and _RE_REAL_PERSON.search(normalized):
        found.discard("fictional")  # "the actress who voices Bart Simpson" is a real person
    if "sex_ed" in found and _RE_EXPLICIT.search(normalized):
        found.discard("sex_ed")
    return found


def decide(matches: Sequence[RuleMatch], normalized: str) -> list[RuleMatch]:
    """The matches that count once frames are applied: strong and marker always; intent unless a frame
    relieves its category; topic only when instructions or content are sought and no frame relieves it."""
    if all(m.tier in (Tier.STRONG, Tier.MARKER) and m.category != "S4" for m in matches):
        return list(matches)
    # Only the categories that a frame could still relieve need frames looked for; a topic counts only
    # when the message seeks instructions or content.
    open_ = {m.category for m in matches if m.tier in (Tier.INTENT, Tier.CONTENT)}
    if any(m.tier is Tier.STRONG and m.category == "S4" for m in matches):
        open_.add("S4")
    topics = {m.category for m in matches if m.tier is Tier.TOPIC}
    seeks: bool | None = None
    if topics - open_:
        seeks = bool(_RE_SEEKS.search(normalized))
        if seeks:
            open_ |= topics
    applied = frames(normalized, open_) if open_ else set()
    relieved: set[str] = set()
    relieved_content: set[str] = set()
    for name in applied:
        relieved |= _RELIEF[name]
        if name not in ("fiction", "game"):
            relieved_content |= _RELIEF[name]
    kept = []
    for m in matches:
        if m.tier is Tier.STRONG and m.category == "S4" and "sex_ed" in applied:
            continue  # "how do I talk to my teen about sex?" (the frame is void with explicit words)
        if m.tier in (Tier.STRONG, Tier.MARKER):
            kept.append(m)
        elif m.tier is Tier.CONTENT:
            if m.category not in relieved_content:
                kept.append(m)
        elif m.category in relieved:
            continue
        elif m.tier is Tier.INTENT:
            kept.append(m)
        else:
            if seeks is None:
                seeks = bool(_RE_SEEKS.search(normalized))
            if seeks:
                kept.append(m)
    return kept


def decide_output(matches: Sequence[RuleMatch], normalized: str) -> list[RuleMatch]:
    """On an answer only one frame applies: a game ("to make TNT in Minecraft, combine …")."""
    if not any(m.category in _RELIEF["game"] for m in matches):
        return list(matches)
    if not _RE_FRAMES["game"].search(normalized) or _RE_INSTRUCTIONS.search(normalized):
        return list(matches)
    return [m for m in matches if m.category not in _RELIEF["game"]]
