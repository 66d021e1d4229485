"""The WAL archive's names, LSN arithmetic, gaps and what a backup no longer needs."""
import pytest

from ansible_collections.polardb.cluster.plugins.module_utils import wal_archive as wa

MB16 = 16 * 1024 * 1024
GIB = 1024 ** 3


def segment(name, size=MB16):
    return wa.parse_segment(name, MB16, size)


def test_lsn_round_trip_and_bad_input():
    assert wa.parse_lsn("16/B374D848") == 0x16B374D848
    assert wa.format_lsn(0x16B374D848) == "16/B374D848"
    with pytest.raises(ValueError, match="not an LSN"):
        wa.parse_lsn("16-B374D848")


@pytest.mark.parametrize("size, lsn, name", [
    (MB16, "0/3000060", "000000010000000000000003"),
    (MB16, "1/FF000000", "0000000100000001000000FF"),
    # PolarDB's 1 GiB segments: four per 4 GiB id
    (GIB, "2/C0000028", "000000010000000200000003"),
])
def test_segment_names_follow_the_segment_size(size, lsn, name):
    number = wa.segment_number(wa.parse_lsn(lsn), size)
    assert wa.segment_name(1, number, size) == name
    assert wa.parse_segment(name, size).number == number


def test_only_segment_names_parse():
    assert wa.parse_segment("00000002.history", MB16) is None
    assert wa.parse_segment("000000010000000000000003.partial", MB16).partial is True
    assert wa.parse_segment("000000010000000000000003.gz", MB16) is None


def test_list_archive_sorts_and_sets_apart_histories_and_strangers(tmp_path):
    for name in ("000000010000000000000004", "000000010000000000000003", "00000002.history", "notes.txt",
                 "000000020000000000000004.partial"):
        (tmp_path / name).write_bytes(b"x")
    segments, histories, others = wa.list_archive(str(tmp_path), MB16)
    assert [s.name for s in segments] == ["000000010000000000000003", "000000010000000000000004",
                                          "000000020000000000000004.partial"]
    assert histories == ["00000002.history"] and others == ["notes.txt"]


def test_a_missing_segment_is_a_gap_named_on_its_timeline():
    held = [segment(n) for n in ("000000010000000000000003", "000000010000000000000005",
                                 "000000010000000000000006.partial")]
    assert wa.gaps(held, 3, MB16) == ["000000010000000000000004"]
    # the first wanted one missing too
    assert wa.gaps(held, 2, MB16, timeline=1) == ["000000010000000000000002", "000000010000000000000004"]


def test_a_timeline_switch_is_no_gap_and_a_partial_counts_only_as_the_newest():
    held = [segment(n) for n in ("000000010000000000000003", "000000010000000000000004.partial",
                                 "000000020000000000000004", "000000020000000000000005.partial")]
    assert wa.gaps(held, 3, MB16) == []
    stale_partial = [segment(n) for n in ("000000010000000000000003", "000000010000000000000004.partial",
                                          "000000010000000000000005")]
    assert wa.gaps(stale_partial, 3, MB16) == ["000000010000000000000004"]


def test_a_segment_cut_short_is_named_and_a_partial_is_not():
    held = [segment("000000010000000000000003", MB16 - 8192), segment("000000010000000000000004.partial", 8192)]
    assert wa.wrong_size(held, MB16) == ["000000010000000000000003"]


def test_only_complete_segments_before_the_oldest_backup_are_no_longer_needed():
    held = [segment(n) for n in ("000000010000000000000002", "000000010000000000000003",
                                 "000000010000000000000004")]
    assert [s.name for s in wa.older_than(held, 3)] == ["000000010000000000000002"]
    assert wa.newest(held).name == "000000010000000000000004" and wa.newest([]) is None
