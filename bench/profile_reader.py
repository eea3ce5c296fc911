"""CPU per event of reading one vdir file (connectors/vdir_files.read_file), for the parse
round of issue 15: a bench-like event, an event with TZID+RRULE+EXDATE+VALARM, and the median
over the corpus files the reader takes. CPU by ``time.process_time`` (the machine is shared),
best of ``--reps`` rounds; ``--root`` picks the checkout to measure (e.g. main's, for before).

    python bench/profile_reader.py [--root /work/main] [--reps 5] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable


def _cpu_per_call(fn: Callable[[], object], calls: int, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=".")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-corpus", action="store_true", help="the two events only")
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    from bench.calendars import VTIMEZONE, event_text
    from cirahub.connectors.vdir_files import read_file
    from tests.corpus import corpus

    series = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n" + VTIMEZONE
              + "BEGIN:VEVENT\r\nUID:s1@example.com\r\nDTSTAMP:20261101T080000Z\r\n"
              "DTSTART;TZID=Europe/Berlin:20270105T090000\r\n"
              "DTEND;TZID=Europe/Berlin:20270105T100000\r\nSUMMARY:Weekly\r\n"
              "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20270601T000000Z\r\n"
              "EXDATE;TZID=Europe/Berlin:20270112T090000,20270119T090000\r\n"
              "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\n"
              "END:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    bench = [event_text(f"bench-{i:06d}@example.com", i) for i in range(200)]
    texts = [e.read().decode("utf-8", errors="replace") for e in corpus()]
    texts = [] if args.no_corpus else [
        t for t in texts if read_file("c.ics", t)[0].item is not None]

    if args.profile:
        import cProfile
        import pstats
        cProfile.runctx("for t in bench * 20: read_file('f.ics', t)", globals(), locals(),
                        "/tmp/profile_reader.out")
        pstats.Stats("/tmp/profile_reader.out").sort_stats("tottime").print_stats(30)
        return

    state = {"i": 0}

    def one_bench() -> None:
        state["i"] = (state["i"] + 1) % len(bench)
        read_file("f.ics", bench[state["i"]])

    rows = [("bench-like event", _cpu_per_call(one_bench, 300, args.reps)),
            ("TZID+RRULE+EXDATE+VALARM", _cpu_per_call(lambda: read_file("s.ics", series),
                                                        300, args.reps))]
    if texts:
        per_file = [_cpu_per_call(lambda t=t: read_file("c.ics", t), 20, args.reps)
                    for t in texts]
        rows.append((f"corpus median ({len(texts)} files)", statistics.median(per_file)))
    print(f"root {args.root}")
    print("| text | CPU µs/event |")
    print("| --- | --- |")
    for name, us in rows:
        print(f"| {name} | {us:.0f} |")


if __name__ == "__main__":
    main()
