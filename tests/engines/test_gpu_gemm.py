"""The shape-aware GEMM model against hand-computed cases."""

import math

import pytest

from wafersim.engines.gpu_gemm import GemmUnit, gemm_time, tile_heights, wave_time

UNIT = GemmUnit(sms=132, tile_m=128, tile_n=128, tile_k=64, mma_m=64, flops_per_s=800e12, bytes_per_s=2.5e12)


def test_a_decode_gemm_is_memory_bound_and_split_over_k():
    # one token through a 4096 x 4096 projection in 16-bit: 32 tiles of 64 x 128 (mma_m rows),
    # split four ways over K (132 // 32) so that 128 of the 132 SMs work: one wave
    g = gemm_time(1, 4096, 4096, UNIT, 2, 2, 2)
    assert (g.split_k, g.waves) == (4, 1)
    compute = 2 * 64 * 128 * 1024 / (800e12 / 132)
    memory = (4096 * 2 + 4096 * 4096 * 2 + 4096 * 2) / 2.5e12
    assert g.compute_s == pytest.approx(compute)
    assert g.memory_s == pytest.approx(memory)
    assert not g.compute_bound and g.time_s == pytest.approx(memory)


def test_a_large_gemm_is_compute_bound_in_whole_waves():
    # 8192^3: 128-row tiles make 64 x 64 = 4096 tiles, ceil(4096 / 132) = 32 waves of 128 rows;
    # 64-row tiles 8192 tiles, 63 waves of 64 rows: 4032 row-cycles against 4096, so 64 it is
    g = gemm_time(8192, 8192, 8192, UNIT, 2, 2, 2)
    assert (g.split_k, g.waves) == (1, 63)
    compute = 63 * 2 * 64 * 128 * 8192 / (800e12 / 132)
    assert g.compute_bound and g.time_s == pytest.approx(compute)
    # within the last wave's waste (8192 of 63 x 132 = 8316 slots used) of the plain roofline
    assert g.time_s == pytest.approx(2 * 8192**3 / 800e12 * 8316 / 8192)


def test_one_tile_more_than_a_wave_costs_a_whole_wave():
    unit = GemmUnit(sms=4, tile_m=128, tile_n=128, tile_k=64, mma_m=128, flops_per_s=4e12, bytes_per_s=1e15)
    four = gemm_time(128, 4 * 128, 4096, unit, 2, 2, 2)     # 4 tiles: one wave
    five = gemm_time(128, 5 * 128, 4096, unit, 2, 2, 2)     # 5 tiles: two waves
    assert (four.waves, five.waves) == (1, 2)
    assert five.time_s == pytest.approx(2 * four.time_s)
    assert four.time_s == pytest.approx(2 * 128 * 128 * 4096 / (4e12 / 4))


def test_tile_heights_cover_short_gemms_with_mma_rows():
    assert [tile_heights(m, UNIT) for m in (1, 64, 65, 128, 1000)] == [[64], [64], [64, 128], [64, 128], [64, 128]]


def test_the_cheaper_tile_height_is_taken():
    # 192 rows x 132 column tiles: 128-row tiles need 2 x 132 = 264 tiles (2 waves of 128 rows),
    # 64-row tiles 3 x 132 = 396 tiles (3 waves of 64 rows): 192 row-cycles against 256
    g = gemm_time(192, 132 * 128, 8192, UNIT, 2, 2, 2)
    assert g.waves == 3 and g.compute_s == pytest.approx(3 * 2 * 64 * 128 * 8192 / (800e12 / 132))


def test_weights_read_over_pcie_leave_hbm():
    full = gemm_time(1, 4096, 4096, UNIT, 2, 2, 2)
    half = gemm_time(1, 4096, 4096, UNIT, 2, 2, 2, weight_share=0.5)
    assert full.memory_s - half.memory_s == pytest.approx(4096 * 4096 * 2 * 0.5 / 2.5e12)


def test_wave_time_fills_the_sms_or_pays_for_idle_ones():
    assert wave_time(1e12, 132, 1e15, 132) == pytest.approx(1e-3)
    assert wave_time(1e12, 13200, 1e15, 132) == pytest.approx(1e-3)
    assert wave_time(1e12, 1, 1e15, 132) == pytest.approx(132e-3)       # one tile: one SM works
    assert wave_time(1e12, 133, 1e15, 132) == pytest.approx(2 * 132 / 133 * 1e-3)
    assert wave_time(0.0, 5, 1e15, 132) == 0.0 and math.isfinite(wave_time(1.0, 1, 1.0, 1))


def test_split_k_parts_are_at_least_tile_k_deep():
    # one row against 128 columns: a single tile; K = 100 is one main-loop step of 64 and a bit,
    # too shallow for two parts of at least 64, so the GEMM is not split; K = 128 splits in two
    assert gemm_time(1, 128, 100, UNIT, 2, 2, 2).split_k == 1
    assert gemm_time(1, 128, 128, UNIT, 2, 2, 2).split_k == 2
    assert gemm_time(1, 128, 64 * 200, UNIT, 2, 2, 2).split_k == 132
