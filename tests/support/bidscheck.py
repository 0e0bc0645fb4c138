"""A run directory's events.tsv/events.json in a minimal BIDS dataset, and the BIDS validator.

The validator is `bids-validator-deno` (pyproject's dev extra): the BIDS project's own
validator, its JavaScript bundle and schema inside the wheel, run by the deno runtime that the
`deno` wheel ships. It reads only the dataset (no network: checked under `unshare -n`).

Events-only data is the `beh` datatype: sub-<label>/beh/sub-<label>_task-<label>_events.tsv
with its sidecar _events.json (BIDS specification, "Behavioral experiments (with no neural
recordings)").
"""

import json
import os
import re
import shutil
import subprocess
import sys
from typing import NamedTuple

BIDS_VERSION = "1.10.0"


def validator_path():
    """The bids-validator-deno script of this interpreter's environment (make install)."""
    here = os.path.join(os.path.dirname(sys.executable), "bids-validator-deno")
    found = here if os.path.exists(here) else shutil.which("bids-validator-deno")
    if found is None:
        raise AssertionError(
            "bids-validator-deno is not installed: `make install` installs pyproject's dev "
            "extra, which pins it"
        )
    return found


def make_dataset(run_dir, root, subject="01", task=None):
    """Lay root out as a minimal raw BIDS dataset holding run_dir's events.tsv and events.json.

    task: the task label (letters and digits only); default the protocol's name from
    summary.json with every other character dropped. Returns the events.tsv path in it."""
    if task is None:
        with open(os.path.join(run_dir, "summary.json"), encoding="utf-8") as f:
            task = json.load(f).get("protocol") or "fire"
    task = re.sub(r"[^A-Za-z0-9]", "", task) or "tms"
    beh = os.path.join(root, f"sub-{subject}", "beh")
    os.makedirs(beh, exist_ok=True)
    with open(os.path.join(root, "dataset_description.json"), "w", encoding="utf-8") as f:
        json.dump(
            {
                "Name": f"tmspio run {os.path.basename(os.path.abspath(run_dir))}",
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "raw",
                "GeneratedBy": [{"Name": "tmspio"}],
            },
            f,
            indent=2,
        )
    with open(os.path.join(root, "README.md"), "w", encoding="utf-8") as f:
        f.write(
            "A minimal BIDS dataset made by tmspio's tests around one run's events.tsv and "
            "events.json: the TTL trigger pulses tmspio delivered to the stimulators, with "
            "their trials, conditions, channels, declared intensities and planned and "
            "captured onsets. No neural data is recorded (datatype beh, events only).\n"
        )
    stem = os.path.join(beh, f"sub-{subject}_task-{task}_events")
    shutil.copyfile(os.path.join(run_dir, "events.tsv"), stem + ".tsv")
    shutil.copyfile(os.path.join(run_dir, "events.json"), stem + ".json")
    return stem + ".tsv"


class Result(NamedTuple):
    returncode: int
    errors: list  # the validator's issues of severity "error"
    warnings: list  # and of severity "warning"
    report: dict  # its whole JSON output

    def codes(self, severity="error"):
        """[(code, subCode, location)] of the issues of that severity."""
        issues = self.errors if severity == "error" else self.warnings
        return [(i["code"], i.get("subCode"), i.get("location")) for i in issues]


def validate(root, timeout=300):
    """Run the BIDS validator on the dataset at root (every TSV row: --max-rows -1)."""
    env = dict(os.environ, NO_COLOR="1", DENO_NO_UPDATE_CHECK="1")
    proc = subprocess.run(
        [validator_path(), "--format", "json", "--max-rows", "-1", os.path.abspath(root)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,  # it asks git about its working directory: keep it out of the checkout
        env=env,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(
            f"bids-validator-deno exited {proc.returncode} without a JSON report: "
            f"stdout {proc.stdout[-2000:]!r} stderr {proc.stderr[-2000:]!r}"
        ) from None
    issues = report["issues"]["issues"]
    return Result(
        proc.returncode,
        [i for i in issues if i.get("severity") == "error"],
        [i for i in issues if i.get("severity") == "warning"],
        report,
    )


def validate_run(run_dir, root, **kw):
    """make_dataset + validate."""
    make_dataset(run_dir, root, **kw)
    return validate(root)
