"""Every library entry checks clean at its published intensity (issue 10): no refusal and, for
the families with published variants, the variant matched (no method warning). Entries whose
source gives no intensity are checked at 100% RMT and at the highest intensity the envelope
passes without an override for their family."""

import pytest
from tmspio import safety
from tmspio.protocols import library, resolve

# entries without a published intensity: (percent, reference) to check at
UNPUBLISHED = {
    "rtms-1hz": [(100, "MT")],  # 1800 s at 90-100% MT; 50 s at 120% (1 Hz row)
    "rtms-0.9hz": [(100, "MT")],
    "rtms-10hz-short-iti": [(100, "MT"), (120, "MT")],
    "rtms-5hz": [(90, "MT"), (150, "MT")],  # "subthreshold"; 10 s up to 150% MT
    "qps5": [(100, "RMT"), (120, "RMT")],
    "qps50": [(100, "RMT"), (120, "RMT")],
    "itms": [(100, "RMT"), (120, "RMT")],
    "sici": [(100, "RMT"), (120, "RMT")],  # conditions declare 80 and 120% RMT themselves
    "icf": [(100, "RMT"), (120, "RMT")],
    "lici": [(100, "RMT")],
    "sai": [(100, "RMT"), (120, "RMT")],
    "ccpas": [(100, "RMT"), (120, "RMT")],
    "pas25": [(100, "RMT"), (120, "RMT")],
    "pas10": [(100, "RMT"), (120, "RMT")],
    "tms-eeg": [(100, "RMT"), (120, "RMT")],
}


def cases():
    out = []
    for name in library.names():
        p = resolve(name)
        if p.intensity is not None:
            assert name not in UNPUBLISHED
            out.append((name, p.intensity.percent, p.intensity.reference))
        else:
            out.extend((name, pct, ref) for pct, ref in UNPUBLISHED[name])
    return out


def test_every_entry_is_covered():
    declared = {n for n in library.names() if resolve(n).intensity is not None}
    assert declared | set(UNPUBLISHED) == set(library.names())
    assert declared == {
        "ctbs300", "ctbs600", "imtbs", "itbs", "rtms-10hz", "rtms-20hz", "saint", "threed-itbs"
    }  # fmt: skip


# entries the envelope refuses without an override, and why (their `unverified` says so)
REFUSED = {
    # LICI's pulses are 100 ms apart: no published paired-pulse rule covers pulses more than
    # 40 ms apart, so they are judged as single pulses, which must be more than 1 s apart
    "lici": ["condition lici-100ms: bursts 0.1 s apart", "all trials: bursts 0.1 s apart"],
}
# trial entries: the conditions pulsing two channels, each matching a published variant
PAIRED = {"sici": 2, "icf": 2, "lici": 1, "sai": 1, "ccpas": 1}


@pytest.mark.parametrize("name, percent, reference", cases())
def test_library_entry_checks_clean(name, percent, reference):
    p = resolve(name)
    found = safety.check(p, safety.Declared(percent, reference))
    assert [(f.rule, f.value.split(" (onset")[0]) for f in found if f.outcome == "refuse"] == [
        ("burst-spacing", v) for v in REFUSED.get(name, [])
    ]
    assert [str(f) for f in found if f.kind == "method" and f.outcome != "pass"] == []
    if p.family != "rtms":
        assert [f.outcome for f in found if f.rule == "published-variant"] == ["pass"] * (
            PAIRED.get(name, 1)
        )


def test_one_step_above_the_bound_is_refused():
    # the clean checks above are not vacuous: just past each bound the same entries refuse
    above = {
        "rtms-1hz": (120, "MT"),
        "itbs": (121, "RMT"),
        "qps5": (121, "RMT"),
        "rtms-5hz": (160, "MT"),
        "rtms-10hz": (130, "RMT"),
    }
    for name, (pct, ref) in above.items():
        found = safety.check(resolve(name), safety.Declared(pct, ref))
        assert [f for f in found if f.outcome == "refuse"], name
