"""bench/fleet.py: which runs it makes, and how a row's runs become its figures (no lab: recorded figures)."""
from bench import fleet

ONE_PROCESS = [(8, 0, "ssh"), (8, 0, "paramiko")]


def test_one_process_rows_run_in_alternating_rounds():
    rows = fleet.plan([1, 8], cores=2)
    runs = fleet.schedule(rows, 3)
    assert runs[:len(rows) - 2] == [row for row in rows if row[1]]  # every other row once, first
    assert runs[len(rows) - 2:] == ONE_PROCESS * 3


def _run(cpu, exit=0, wall=90.0, load=1.0):
    return {"wall_s": wall, "runner_cpu_s": cpu, "machine_cpu_s": 100.0, "peak_rss_mib": 80.0 + cpu, "exit": exit,
            "load_before": load, "leftover_processes": 0, "last_line": f"cpu {cpu}"}


def test_a_row_gives_the_median_of_its_runs_and_each_run():
    row = fleet.merged([_run(9.6, load=11.0), _run(8.1, load=3.0), _run(8.4, load=2.0)])
    assert row["runner_cpu_s"] == 8.4
    assert [run["runner_cpu_s"] for run in row["runs"]] == [9.6, 8.1, 8.4]
    assert row["peak_rss_mib"] == 89.6 and row["load_before"] == 11.0 and row["exit"] == 0


def test_a_failing_run_makes_the_row_fail():
    row = fleet.merged([_run(8.0), _run(8.2, exit=1), _run(8.4)])
    assert row["exit"] == 1 and row["last_line"] == "cpu 8.2"
