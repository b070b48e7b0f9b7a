"""The demo tells the truth in order: a labelled checkpoint, a word on event ids, a live alert, a status that does
not call tampered history fine, and next steps at the end."""

from __future__ import annotations

from tests.support.helpers import cli


def test_demo_output_tells_the_truth_in_order() -> None:
    result = cli("demo")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for label in ("origin:", "tree size:", "root:", "signature:"):
        assert f"  {label}" in out, out
    assert "event ids order the whole log" in out
    assert "ALERT [high] schema change in shop: ALTER TABLE shop.customer" in out  # fired live by the rule
    found = out.index("verify finds event_modified")
    status = out.index("Status:")
    assert found < status
    assert "history: TAMPERED: verify --full found event_modified" in out[status:]
    assert "problems: none" not in out
    assert out.rstrip().splitlines()[-4] == "Next steps:"
