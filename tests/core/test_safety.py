"""Safety checks halt a spoke that looks broken instead of deleting everything."""

from __future__ import annotations

from cirahub.core.safety import check_deletions, find_duplicate_uids


def test_empty_complete_listing_with_links_halts() -> None:
    """A folder that suddenly lists nothing (wrong folder, lost rights) halts the spoke."""
    reason = check_deletions(42, 42, listing_complete=True, listing_size=0)
    assert reason == "the spoke's complete listing is empty but 42 items are linked"
    # even a single linked item is worth a halt when the whole listing is empty
    assert check_deletions(0, 1, listing_complete=True, listing_size=0) is not None


def test_empty_listing_without_links_or_incomplete_is_fine() -> None:
    """A new, empty spoke is normal; a partial page proves nothing."""
    assert check_deletions(0, 0, listing_complete=True, listing_size=0) is None
    assert check_deletions(0, 40, listing_complete=False, listing_size=0) is None
    assert check_deletions(0, 40, listing_complete=True, listing_size=None) is None


def test_mass_delete_needs_both_ratio_and_count() -> None:
    """30 of 40 halts; 10 of 12 (small calendar) and 11 of 40 (normal cleanup) do not."""
    assert check_deletions(30, 40, listing_complete=True, listing_size=10) == (
        "would delete 30 of 40 linked items (more than 50% and more than 10)"
    )
    assert check_deletions(10, 12, listing_complete=True, listing_size=2) is None
    assert check_deletions(11, 40, listing_complete=True, listing_size=29) is None
    assert check_deletions(11, 20, listing_complete=False, listing_size=None) is not None
    assert check_deletions(10, 20, listing_complete=False, listing_size=None) is None


def test_thresholds_are_configurable() -> None:
    """An operator may tighten the limits."""
    assert check_deletions(3, 10, listing_complete=False, listing_size=None,
                           threshold_ratio=0.2, threshold_count=2) is not None
    assert check_deletions(3, 10, listing_complete=False, listing_size=None) is None


def test_duplicate_uids_keep_the_preferred_then_the_smallest() -> None:
    """The already-linked copy keeps its UID; among new copies the smallest id is kept."""
    uid_of = {"b": "U", "a": "U", "c": "U", "x": "V", "y": "W", "z": "W"}
    assert find_duplicate_uids(uid_of, preferred={"c"}) == {"a": "c", "b": "c", "z": "y"}
    assert find_duplicate_uids(uid_of) == {"b": "a", "c": "a", "z": "y"}
    reordered = dict(reversed(list(uid_of.items())))
    assert find_duplicate_uids(reordered) == find_duplicate_uids(uid_of)
