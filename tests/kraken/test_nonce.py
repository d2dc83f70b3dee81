import itertools
import subprocess
import sys
from pathlib import Path

from balance_tui.kraken.nonce import NonceSource, PersistentNonceSource

DRAW = """
import sys
from pathlib import Path
from balance_tui.kraken.nonce import PersistentNonceSource
source = PersistentNonceSource(Path(sys.argv[1]), "shared-key")
print("\\n".join(source.next() for _ in range(int(sys.argv[2]))))
"""


def test_nonces_increase_strictly_even_faster_than_the_clock() -> None:
    source = NonceSource()
    drawn = [int(source.next()) for _ in range(5000)]
    assert all(b > a for a, b in itertools.pairwise(drawn))


def test_a_restart_continues_above_the_last_nonce(tmp_path: Path) -> None:
    first = PersistentNonceSource(tmp_path, "key")
    last = max(int(first.next()) for _ in range(2000))  # far ahead of the clock by now
    again = PersistentNonceSource(tmp_path, "key")
    assert int(again.next()) > last


def test_keys_have_separate_marks_and_the_file_never_names_the_key(tmp_path: Path) -> None:
    a, b = PersistentNonceSource(tmp_path, "key-a"), PersistentNonceSource(tmp_path, "key-b")
    assert a.path != b.path
    assert "key-a" not in a.path.name
    a.next()
    assert a.path.stat().st_mode & 0o777 == 0o600


def test_two_processes_sharing_a_key_never_reuse_or_reorder_a_nonce(tmp_path: Path) -> None:
    runs = [
        subprocess.Popen([sys.executable, "-c", DRAW, str(tmp_path), "1500"], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [[int(line) for line in run.communicate(timeout=60)[0].split()] for run in runs]
    for drawn in outputs:
        assert len(drawn) == 1500
        assert all(b > a for a, b in itertools.pairwise(drawn))
    merged = outputs[0] + outputs[1]
    assert len(set(merged)) == len(merged)
    assert int(PersistentNonceSource(tmp_path, "shared-key").next()) > max(merged)
