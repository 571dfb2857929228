"""The flow engine's results pinned to values recorded before its routing was sped up.

Speed work on the flow engine (buffers reused between routes, link statistics
restricted to the box the transfers touch, prefix sums cached on the mesh) must
not change a single result.  Each case runs ``simulate(..., fidelity="flow")``
and compares every numeric summary field (recorded to 12 significant digits)
and checksums of the result arrays: sum, position-weighted sum, maximum, index
of the maximum and count of non-zero entries.  The cases cover a full WSE-3
wafer, a small mesh with defects, spill and micro-batches, and a model on four
wafers.
"""

from __future__ import annotations

import numpy as np
import pytest

import wafersim

CASES = {
    "8b-wse3": ("wse3", None, "llama-3.1-8b", {}),
    "8b-128-defects-batch8": ("wse3", {"mesh.cores_x": 128, "mesh.cores_y": 128, "mesh.dies_x": 2, "mesh.dies_y": 2,
                                       "defects.density": 0.004, "defects.spare_fraction": 0.05, "defects.seed": 3},
                              "llama-3.1-8b", {"batch": 8}),
    "70b-4x256": ("wse3", {"mesh.cores_x": 256, "mesh.cores_y": 256, "mesh.dies_x": 4, "mesh.dies_y": 4},
                  "llama-3.1-70b", {"wafers": 4, "batch": 2}),
}
ARRAYS = ("link_load_bytes", "link_utilisation", "decode_stage_s", "decode_layer_s", "prefill_layer_s")
REL = 1e-11   # the recorded values carry 12 significant digits

EXPECTED = {'70b-4x256': {'batch': 2.0,
               'cores_per_wafer': 65536.0,
               'decode_layer_s': (0.23415442752, 9.48325431456, 0.002926930344, 0, 80),
               'decode_stage_s': (0.00551624972159, 1.55281319407, 3.5753030303e-05, 68, 560),
               'devices': 4.0,
               'energy_compute_j': 0.072270610432,
               'energy_interwafer_j': 3.93216e-06,
               'energy_io_j': 4.59337217024,
               'energy_links_j': 1.86396865346,
               'energy_per_token_j': 4689.62857575,
               'energy_sram_j': 0.0104099856116,
               'energy_static_j': 4683.0885504,
               'kv_bytes': 1426063360.0,
               'layers': 80.0,
               'link_load_bytes': (12612945075900.0, 6299722558310000.0, 104614296.0, 196, 567034),
               'link_utilisation': (12242.2558827, 6114576.34065, 0.101539723575, 196, 567034),
               'max_link_utilisation': 0.101539724503,
               'micro_batches': 2.0,
               'output_tokens': 128.0,
               'prefill_layer_s': (22.0044059632, 889.546580971, 0.28372905697, 9, 80),
               'prompt_tokens': 2048.0,
               'spilled_bytes': 131280820224.0,
               'tokens_per_s': 8.54137169723,
               'tokens_per_s_per_user': 4.27068584861,
               'tpot_s': 0.23415442752,
               'ttft_s': 0.967915788743,
               'weight_bytes': 141107412992.0},
 '8b-128-defects-batch8': {'batch': 8.0,
                           'cores_per_wafer': 16384.0,
                           'decode_layer_s': (0.126092541176, 2.08052692941, 0.00394039191176, 0, 32),
                           'decode_stage_s': (0.00408589354983, 0.46703337711, 6.37928128342e-05, 194, 224),
                           'devices': 1.0,
                           'energy_compute_j': 0.008058437632,
                           'energy_interwafer_j': 0.0,
                           'energy_io_j': 0.15385572608,
                           'energy_links_j': 0.0284046816145,
                           'energy_per_token_j': 157.80731467,
                           'energy_sram_j': 0.00131935440603,
                           'energy_static_j': 157.615676471,
                           'kv_bytes': 2281701376.0,
                           'layers': 32.0,
                           'link_load_bytes': (794254259262.0, 395950032021000.0, 115914408.0, 76, 34158),
                           'link_utilisation': (1431.58609329, 713671.41271, 0.208927378058, 76, 34158),
                           'max_link_utilisation': 0.208927379817,
                           'micro_batches': 8.0,
                           'output_tokens': 128.0,
                           'prefill_layer_s': (63.7640661507, 1055.9987709, 2.03682502996, 31, 32),
                           'prompt_tokens': 2048.0,
                           'spilled_bytes': 17650096128.0,
                           'tokens_per_s': 63.4454657298,
                           'tokens_per_s_per_user': 7.93068321623,
                           'tpot_s': 0.126092541176,
                           'ttft_s': 2.52615126747,
                           'weight_bytes': 16060522496.0},
 '8b-wse3': {'batch': 1.0,
             'cores_per_wafer': 889056.0,
             'decode_layer_s': (0.000334540958704, 0.00553431323452, 1.13698051194e-05, 31, 32),
             'decode_stage_s': (0.000269694595068, 0.0304472329113, 2.05671101256e-06, 173, 224),
             'devices': 1.0,
             'energy_compute_j': 0.008058437632,
             'energy_interwafer_j': 0.0,
             'energy_io_j': 0.0,
             'energy_links_j': 0.000245641503556,
             'energy_per_token_j': 3.39539352432,
             'energy_sram_j': 0.0122289651712,
             'energy_static_j': 3.37486048002,
             'kv_bytes': 285212672.0,
             'layers': 32.0,
             'link_load_bytes': (858507286.436, 428366187295.0, 8567.41503906, 588, 1865827),
             'link_utilisation': (578.14326574, 288473.994772, 0.0057695414871, 588, 1865827),
             'max_link_utilisation': 0.00576954129247,
             'micro_batches': 1.0,
             'output_tokens': 128.0,
             'prefill_layer_s': (0.276972420691, 4.56941381612, 0.0086767636424, 31, 32),
             'prompt_tokens': 2048.0,
             'spilled_bytes': 0.0,
             'tokens_per_s': 2963.08545471,
             'tokens_per_s_per_user': 2963.08545471,
             'tpot_s': 0.000337486048002,
             'ttft_s': 0.025584723638,
             'weight_bytes': 16060522496.0}}


def digest(result) -> dict:
    out = {k: float(v) for k, v in result.summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for name in ARRAYS:
        a = np.asarray(result.arrays[name].data, dtype=np.float64).ravel()
        w = np.arange(a.size) % 997 + 1.0
        out[name] = (float(a.sum()), float((a * w).sum()), float(a.max()), int(np.argmax(a)), int(np.count_nonzero(a)))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_flow_results_unchanged(case):
    system, sets, model, scenario = CASES[case]
    got = digest(wafersim.simulate(wafersim.load_system(system, sets), model, fidelity="flow", **scenario))
    want = EXPECTED[case]
    assert set(got) == set(want)
    for key, value in want.items():
        if isinstance(value, tuple):
            total, weighted, peak, argmax, nonzero = got[key]
            assert (argmax, nonzero) == value[3:], key
            assert (total, weighted, peak) == pytest.approx(value[:3], rel=REL, abs=0.0), key
        else:
            assert got[key] == pytest.approx(value, rel=REL, abs=0.0), key
