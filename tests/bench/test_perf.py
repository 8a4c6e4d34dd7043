"""bench.perf: reading `perf report` (excerpts of a real R-T01 sweep's report), and a real recording
where perf can sample the machine."""

import time

import pytest

from bench import perf

COMMANDS = """\
# To display the perf.data header info, please use --header/--header-only options.
#
# Samples: 10K of event 'cpu-clock:ppp'
# Event count (approx.): 21607214256
#
# Overhead  Command        
# ........  ...............
#
    70.84%  postgres       
    14.50%  python         
    14.09%  swapper        
     0.20%  kdamond.0      
     0.07%  kworker/u8:0-wr
"""  # noqa: W291 (perf pads its columns)

SYMBOLS = """\
# Children      Self  Symbol                                         IPC   [IPC Coverage]
# ........  ........  .............................................  ....................
#
    68.24%     0.00%  [.] __libc_start_call_main                     -      -            
    67.30%     0.01%  [.] PostgresMain                               -      -            
    20.19%     0.16%  [.] ExecInsertIndexTuples                      -      -            
    18.26%     0.00%  [.] AfterTriggerFireDeferred                   -      -            
     3.68%     0.01%  [k] __x64_sys_pwrite64                         -      -            
     1.15%     0.00%  [.] pg_plan_queries                            -      -            
     0.40%     0.00%  [.] 0x0000563abb29e30c                         -      -            
"""  # noqa: W291


def test_the_commands_shares_are_read_from_the_report():
    assert perf.commands(COMMANDS) == {
        "postgres": 70.84,
        "python": 14.5,
        "swapper": 14.09,
        "kdamond.0": 0.2,
        "kworker/u8:0-wr": 0.07,
    }


def test_the_functions_inclusive_shares_are_read_from_the_report_kernel_ones_too():
    shares = perf.inclusive(SYMBOLS)
    assert shares["AfterTriggerFireDeferred"] == 18.26
    assert shares["ExecInsertIndexTuples"] == 20.19
    assert shares["__x64_sys_pwrite64"] == 3.68
    assert shares["pg_plan_queries"] == 1.15
    assert "Symbol" not in shares and len(shares) == 7


def test_the_line_names_the_busiest_commands_the_idle_share_and_every_group():
    line = perf.Profile(commands=perf.commands(COMMANDS), postgres=perf.inclusive(SYMBOLS)).line()
    assert "postgres 70.8 %, python 14.5 %, swapper 14.1 % (cores 86 % busy)" in line
    assert "foreign-key checks at commit 18.3 %" in line and "index entries 20.2 %" in line
    assert "planning 1.1 %" in line and "row locks 0.0 %" in line  # a function not sampled reads 0
    assert all(what in line for what, _ in perf.GROUPS)


def test_a_recording_of_a_busy_python_loop_finds_python_busy():
    if why := perf.available():
        pytest.skip(why)
    recording = perf.Recording().start()
    until = time.perf_counter() + 1.0
    while time.perf_counter() < until:
        sum(range(1000))
    profile = recording.stop().profile()
    # The loop keeps one core busy for the second; other processes (the suite's other worker, a browser)
    # may share the cores, so python's share is only bounded from below.
    assert profile.commands.get("python", 0.0) + profile.commands.get("python3", 0.0) >= 10.0, profile.commands
    assert 95.0 <= sum(profile.commands.values()) <= 100.5
