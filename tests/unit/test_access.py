"""The access model (core/access.py): allow and block lists, inheritance, direct messages, moderators."""

from __future__ import annotations

from core.access import AccessLists, Place

THREAD = Place(user="u1", space="g1", channels=("thread", "general", "category"), roles=frozenset({"member"}))


def test_no_lists_admit_everyone_everywhere() -> None:
    assert AccessLists().permits(THREAD)
    assert AccessLists().permits(Place(user="u1", direct=True))


def test_a_block_list_wins_over_an_allow_list() -> None:
    lists = AccessLists.of(allowed_users=["u1"], blocked_users=["u1"])
    assert not lists.permits(THREAD)
    assert not AccessLists.of(allowed_channels=["general"], blocked_channels=["thread"]).permits(THREAD)
    assert not AccessLists.of(allowed_roles=["member"], blocked_roles=["member"]).permits(THREAD)
    assert not AccessLists.of(allowed_spaces=["g1"], blocked_spaces=["g1"]).permits(THREAD)


def test_threads_and_channels_inherit_their_parents_and_categorys_listing() -> None:
    assert AccessLists.of(allowed_channels=["category"]).permits(THREAD)
    assert not AccessLists.of(blocked_channels=["general"]).permits(THREAD)
    assert not AccessLists.of(allowed_channels=["elsewhere"]).permits(THREAD)


def test_allow_lists_admit_only_what_they_name() -> None:
    assert not AccessLists.of(allowed_users=["u2"]).permits(THREAD)
    assert not AccessLists.of(allowed_roles=["mods"]).permits(THREAD)
    assert not AccessLists.of(allowed_spaces=["g2"]).permits(THREAD)
    assert AccessLists.of(allowed_spaces=[1, "g1"]).permits(THREAD)  # ids of any type, compared as text


def test_direct_messages_follow_the_user_lists_and_the_switch_only() -> None:
    dm = Place(user="u1", direct=True)
    lists = AccessLists.of(allowed_channels=["general"], allowed_roles=["mods"], allowed_spaces=["g1"])
    assert lists.permits(dm)  # channel, role and space lists are for servers and workspaces
    assert not AccessLists.of(blocked_users=["u1"]).permits(dm)
    assert not AccessLists.of(allowed_users=["u2"]).permits(dm)
    assert not AccessLists(direct_messages=False).permits(dm)


def test_moderators_are_the_platforms_admins_or_configured() -> None:
    lists = AccessLists.of(moderator_users=[42], moderator_roles=["mods"])
    assert lists.is_moderator("42")
    assert lists.is_moderator("7", ["member", "mods"])
    assert lists.is_moderator("7", platform_admin=True)
    assert not lists.is_moderator("7", ["member"])
    assert not AccessLists().is_moderator("42")
