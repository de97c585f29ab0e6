"""What a user-caused error of the command line looks like, for tests that run ``tangpoet`` in a subprocess."""

from __future__ import annotations


def one_error_line(result, message: str) -> None:
    """``result`` (a finished ``subprocess.run``) failed with exit status 2 and one ``error:`` line, the last of its
    standard error, that contains ``message`` — no traceback."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 2, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0], result.stderr
    assert message in errors[0], errors[0]
