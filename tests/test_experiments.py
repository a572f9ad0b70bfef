"""The experiments' grids are runner grids: distinct run keys, options that name their variant."""

from experiments.multilabel import compare


def test_the_multilabel_grids_are_runner_points_with_distinct_keys():
    for entries, protocol in ((compare.GRID, "test"), (compare.VALIDATION_GRID, "full-labels")):
        points = compare.grid_points(entries, "data", protocol)
        assert len({point.key for point in points}) == len(points) == len(entries)
        assert {point.protocol for point in points} == {protocol}
        for point, (method, variant, *_) in zip(points, entries):
            assert compare.variant_of(point.method, point.key_values["model_options"]) == variant
    default = compare.grid_points([("ssb-vae", "jaccard+confidence", 0.1, 16, 20)], "data", "test")[0]
    assert default.model_options == () and default.alpha == 0.001
