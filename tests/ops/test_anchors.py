"""Anchors and priors: native grid vs reference, torchvision AnchorGenerator / DefaultBoxGenerator,
py-faster-rcnn's published anchors, SSD300's 8,732 priors, YOLO grids and points, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import detkit
from detkit import reference
from detkit.ops import anchors as A

FPN_SIZES = ((32,), (64,), (128,), (256,), (512,))
FPN_RATIOS = ((0.5, 1.0, 2.0),) * 5
FPN_GRIDS = [(200, 334), (100, 167), (50, 84), (25, 42), (13, 21)]
SSD300_RATIOS = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
SSD300_SCALES = [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05]
SSD300_STEPS = [8, 16, 32, 64, 100, 300]
SSD300_GRIDS = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]


def _torch_image_list(image_size, grids):
    torch = pytest.importorskip("torch")
    image_list = pytest.importorskip("torchvision.models.detection.image_list")
    images = image_list.ImageList(torch.zeros(1, 1, *image_size), [tuple(image_size)])
    return images, [torch.zeros(1, 1, h, w) for h, w in grids]


@st.composite
def generator_setups(draw):
    levels = draw(st.integers(1, 4))
    sizes = tuple(tuple(draw(st.lists(st.sampled_from([8, 16, 23, 32, 45.5, 64, 100]), min_size=1, max_size=3)))
                  for _ in range(levels))
    ratios = tuple(tuple(draw(st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0]), min_size=1, max_size=3)))
                   for _ in range(levels))
    grids = [(draw(st.integers(1, 12)), draw(st.integers(1, 12))) for _ in range(levels)]
    image = (draw(st.integers(max(h for h, _ in grids), 400)), draw(st.integers(max(w for _, w in grids), 400)))
    return sizes, ratios, grids, image


@given(generator_setups(), st.sampled_from([0.0, 0.5, 0.25]), st.booleans(),
       st.sampled_from([np.float32, np.float64]))
def test_grid_anchors_match_reference(setup, offset, rounded, dtype):
    sizes, ratios, grids, image = setup
    gen = detkit.AnchorGenerator(sizes, ratios, offset=offset, round_cell_anchors=rounded)
    got = gen(image, grids, dtype=dtype)
    strides = [(image[0] // h, image[1] // w) for h, w in grids]
    want = reference.grid_anchors([c.astype(dtype) for c in gen.cell_anchors], grids, strides, offset)
    assert got.dtype == dtype and got.shape == (sum(h * w * n for (h, w), n in
                                                    zip(grids, gen.num_anchors_per_location())), 4)
    np.testing.assert_array_equal(got, want)
    parts = gen(image, grids, dtype=dtype, split=True)
    assert [len(p) for p in parts] == [h * w * n for (h, w), n in zip(grids, gen.num_anchors_per_location())]
    np.testing.assert_array_equal(np.concatenate(parts), got)


def test_explicit_and_anisotropic_strides():
    gen = detkit.AnchorGenerator(((16,), (32,)), (1.0,), offset=0.5)
    got = gen((100, 100), [(3, 2), (1, 1)], strides=[(8, 4.5), 16])
    want = reference.grid_anchors(gen.cell_anchors, [(3, 2), (1, 1)], [(8, 4.5), (16, 16)], 0.5)
    np.testing.assert_array_equal(got, want)
    # First level, location (y=1, x=1): centre ((1 + 0.5) * 4.5, (1 + 0.5) * 8) = (6.75, 12).
    np.testing.assert_array_equal(got[3], [6.75 - 8, 12 - 8, 6.75 + 8, 12 + 8])


def test_fpn_anchors_match_torchvision():
    pytest.importorskip("torchvision")
    from torchvision.models.detection.anchor_utils import AnchorGenerator as TorchAnchorGenerator

    ours = detkit.AnchorGenerator(FPN_SIZES, FPN_RATIOS)
    theirs = TorchAnchorGenerator(FPN_SIZES, FPN_RATIOS)
    images, features = _torch_image_list((800, 1333), FPN_GRIDS)
    want = theirs(images, features)[0].numpy()
    got = ours((800, 1333), FPN_GRIDS)
    assert got.shape == (267_069, 4)
    np.testing.assert_array_equal(got, want)
    assert ours.num_anchors_per_location() == theirs.num_anchors_per_location()
    for mine, its in zip(ours.cell_anchors, theirs.cell_anchors):
        np.testing.assert_array_equal(mine, its.numpy())


@pytest.mark.parametrize("sizes, ratios", [
    ((128, 256, 512), (0.5, 1.0, 2.0)),  # flat forms: one size per level, shared ratios
    (((33, 65.5, 100),), ((0.3, 1.0, 1.7, 2.5),)),  # sizes whose halves land on .5: round half to even
])
def test_cell_anchors_and_flat_forms_match_torchvision(sizes, ratios):
    pytest.importorskip("torchvision")
    from torchvision.models.detection.anchor_utils import AnchorGenerator as TorchAnchorGenerator

    ours, theirs = detkit.AnchorGenerator(sizes, ratios), TorchAnchorGenerator(sizes, ratios)
    grids = [(5, 7)] * len(ours.cell_anchors)
    images, features = _torch_image_list((64, 90), grids)
    np.testing.assert_array_equal(ours((64, 90), grids), theirs(images, features)[0].numpy())
    np.testing.assert_array_equal(ours((64, 90), grids, dtype=np.float64), theirs(images, [f.double() for f in features])[0].numpy())


def test_detectron2_style_offset_and_exact_cells():
    gen = detkit.AnchorGenerator(((32,),), ((0.5,),), offset=0.5, round_cell_anchors=False)
    w, h = 32 / np.sqrt(0.5), 32 * np.sqrt(0.5)
    np.testing.assert_allclose(gen.cell_anchors[0], [[-w / 2, -h / 2, w / 2, h / 2]], rtol=1e-6)
    anchors = gen((64, 64), [(4, 4)])
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    np.testing.assert_allclose(centres[:4], [[8, 8], [24, 8], [40, 8], [56, 8]], atol=1e-5)


def test_py_faster_rcnn_anchors():
    # The table printed in py-faster-rcnn's lib/rpn/generate_anchors.py for the default arguments.
    published = np.array([[-84, -40, 99, 55], [-176, -88, 191, 103], [-360, -184, 375, 199],
                          [-56, -56, 71, 71], [-120, -120, 135, 135], [-248, -248, 263, 263],
                          [-36, -80, 51, 95], [-80, -168, 95, 183], [-168, -344, 183, 359]], float)
    np.testing.assert_array_equal(detkit.generate_anchors(), published)
    np.testing.assert_array_equal(detkit.generate_anchors(16, [0.5, 1, 2], 2 ** np.arange(3, 6)), published)
    # Width and height (inclusive pixels) of the ratio-1 anchor at scale 8 are 16 * 8.
    one = detkit.generate_anchors(16, [1.0], [8])[0]
    assert one[2] - one[0] + 1 == 128 and one[3] - one[1] + 1 == 128


def test_ssd300_has_8732_priors_matching_torchvision():
    gen = detkit.DefaultBoxGenerator(SSD300_RATIOS, scales=SSD300_SCALES, steps=SSD300_STEPS)
    boxes = gen((300, 300), SSD300_GRIDS)
    assert boxes.shape == (8732, 4) and boxes.dtype == np.float32
    assert gen.num_anchors_per_location() == [4, 6, 6, 6, 4, 4]
    rel = gen((300, 300), SSD300_GRIDS, fmt="cxcywh")
    assert rel.shape == (8732, 4) and 0 <= rel.min() and rel[:, 2:].max() <= 1  # clip=True
    pytest.importorskip("torchvision")
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator as TorchDefaultBoxGenerator

    theirs = TorchDefaultBoxGenerator(SSD300_RATIOS, scales=SSD300_SCALES, steps=SSD300_STEPS)
    images, features = _torch_image_list((300, 300), SSD300_GRIDS)
    np.testing.assert_array_equal(boxes, theirs(images, features)[0].numpy())
    np.testing.assert_array_equal(rel, theirs._grid_default_boxes(SSD300_GRIDS, [300, 300]).numpy())


@pytest.mark.parametrize("kwargs, image, grids", [
    (dict(aspect_ratios=[[2, 3]] * 3), (320, 250), [(7, 9), (4, 5), (2, 3)]),
    (dict(aspect_ratios=[[2]], min_ratio=0.2, max_ratio=0.95, clip=False), (512, 512), [(8, 8)]),
    (dict(aspect_ratios=[[2], [3]], steps=[16, 40], clip=False), (333, 517), [(21, 33), (9, 13)]),
])
def test_default_boxes_match_torchvision(kwargs, image, grids):
    pytest.importorskip("torchvision")
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator as TorchDefaultBoxGenerator

    ours, theirs = detkit.DefaultBoxGenerator(**kwargs), TorchDefaultBoxGenerator(**kwargs)
    assert ours.scales == pytest.approx(theirs.scales)
    images, features = _torch_image_list(image, grids)
    np.testing.assert_array_equal(ours(image, grids), theirs(images, features)[0].numpy())
    np.testing.assert_allclose(ours(image, grids, dtype=np.float64), theirs(images, features)[0].numpy(), rtol=1e-6)


def test_anchor_points():
    points, strides = detkit.make_anchor_points([(2, 3), (1, 2)], [8, 16], dtype=np.float64)
    np.testing.assert_array_equal(points, [[4, 4], [12, 4], [20, 4], [4, 12], [12, 12], [20, 12], [8, 8], [24, 8]])
    np.testing.assert_array_equal(strides, [8] * 6 + [16] * 2)
    corner, _ = detkit.make_anchor_points([(1, 2)], [(8, 4)], offset=0.0)
    np.testing.assert_array_equal(corner, [[0, 0], [4, 0]])
    empty_points, empty_strides = detkit.make_anchor_points([], [])
    assert empty_points.shape == (0, 2) and empty_strides.shape == (0,)


def test_yolo_grid_layout_and_tables():
    grid, wh, strides = detkit.yolo_grid([(2, 3), (1, 1)], [8, 16], [[[10, 13], [16, 30]], [[30, 61], [62, 45]]])
    assert len(grid) == 2 * 6 + 2
    # Level 0: anchor-major, then y, then x (a YOLOv5 head's flattened order).
    np.testing.assert_array_equal(grid[:6], [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]])
    np.testing.assert_array_equal(grid[6:12], grid[:6])
    np.testing.assert_array_equal(wh[:6], [[10, 13]] * 6)
    np.testing.assert_array_equal(wh[6:12], [[16, 30]] * 6)
    np.testing.assert_array_equal(wh[12:], [[30, 61], [62, 45]])
    np.testing.assert_array_equal(strides, [8] * 12 + [16] * 2)
    assert A.YOLOV3_ANCHORS.shape == (3, 3, 2) and A.YOLOV5_P6_ANCHORS.shape == (4, 3, 2)
    assert A.YOLOV2_VOC_ANCHORS.shape == A.YOLOV2_COCO_ANCHORS.shape == (5, 2)
    assert A.YOLOV3_ANCHORS[2, 2].tolist() == [373, 326]
    with pytest.raises(ValueError, match="read-only"):
        A.YOLOV3_ANCHORS[0, 0, 0] = 1
    full = detkit.yolo_grid([(80, 80), (40, 40), (20, 20)], list(A.YOLOV5_STRIDES), A.YOLOV5_ANCHORS)
    assert len(full[0]) == 25_200  # YOLOv5 at 640 x 640


def test_anchor_errors():
    with pytest.raises(ValueError, match="sizes and aspect_ratios must have one entry per level, got 2 and 3"):
        detkit.AnchorGenerator(((32,), (64,)), ((1.0,),) * 3)
    with pytest.raises(ValueError, match="sizes must be a non-empty sequence"):
        detkit.AnchorGenerator(())
    with pytest.raises(ValueError, match="aspect_ratios must be a non-empty sequence"):
        detkit.AnchorGenerator(((32,),), 1.0)
    with pytest.raises(ValueError, match=r"sizes\[0\]\[0\] must be in \(0.0"):
        detkit.AnchorGenerator(((0,),))
    with pytest.raises(ValueError, match=r"aspect_ratios\[0\] must be a non-empty sequence"):
        detkit.AnchorGenerator(((32,),), ((),))
    with pytest.raises(TypeError, match="offset must be a real number"):
        detkit.AnchorGenerator(offset=None)
    gen = detkit.AnchorGenerator()
    with pytest.raises(ValueError, match=r"feature_map_sizes must have one entry per level \(1\), got 2"):
        gen((100, 100), [(4, 4), (2, 2)])
    with pytest.raises(ValueError, match=r"feature_map_sizes\[0\] \(200, 4\) is larger than image_size"):
        gen((100, 100), [(200, 4)])
    with pytest.raises(TypeError, match=r"image_size must be a \(height, width\) pair"):
        gen(100, [(4, 4)])
    with pytest.raises(ValueError, match=r"feature_map_sizes\[0\]\[1\] \(width\) must be a positive integer, got 0"):
        gen((100, 100), [(4, 0)])
    with pytest.raises(TypeError, match=r"image_size\[0\] \(height\) must be a positive integer, got 100.0"):
        gen((100.0, 100), [(4, 4)])
    with pytest.raises(TypeError, match="feature_map_sizes must be a sequence"):
        gen((100, 100), np.array([[4, 4]]))
    with pytest.raises(ValueError, match=r"strides must be a sequence of 1 strides"):
        gen((100, 100), [(4, 4)], strides=[8, 8])
    with pytest.raises(ValueError, match=r"strides\[0\] must be in \(0.0"):
        gen((100, 100), [(4, 4)], strides=[-8])
    with pytest.raises(ValueError, match=r"strides\[0\] must be a number or a \(stride_y, stride_x\) pair"):
        gen((100, 100), [(4, 4)], strides=[(8, 8, 8)])
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int32"):
        gen((100, 100), [(4, 4)], dtype=np.int32)
    with pytest.raises(ValueError, match=r"ratios\[1\] must be in \(0.0"):
        detkit.generate_anchors(16, [0.5, -1])
    with pytest.raises(ValueError, match="base_size must be in"):
        detkit.generate_anchors(0)
    with pytest.raises(ValueError, match="steps must have one entry per level"):
        detkit.DefaultBoxGenerator([[2]], steps=[8, 16])
    with pytest.raises(ValueError, match=r"scales must have 3 entries"):
        detkit.DefaultBoxGenerator([[2], [2]], scales=[0.1, 0.2])
    with pytest.raises(TypeError, match=r"aspect_ratios\[1\] must be a sequence"):
        detkit.DefaultBoxGenerator([[2], 3])
    with pytest.raises(ValueError, match="aspect_ratios must be a non-empty sequence"):
        detkit.DefaultBoxGenerator([])
    ssd = detkit.DefaultBoxGenerator([[2]])
    with pytest.raises(ValueError, match="fmt must be one of 'xyxy', 'cxcywh'"):
        ssd((300, 300), [(3, 3)], fmt="xywh")
    with pytest.raises(ValueError, match=r"feature_map_sizes must have one entry per level \(1\)"):
        ssd((300, 300), [])
    with pytest.raises(ValueError, match="strides must be a sequence of 2 strides"):
        detkit.make_anchor_points([(2, 2), (1, 1)], [8])
    with pytest.raises(ValueError, match=r"anchors must have shape \(1, A, 2\)"):
        detkit.yolo_grid([(2, 2)], [8], [[10, 13]])
    with pytest.raises(ValueError, match="anchors must be positive and finite"):
        detkit.yolo_grid([(2, 2)], [8], [[[10, 0]]])
    with pytest.raises(ValueError, match="strides must have one number per feature map"):
        detkit.yolo_grid([(2, 2)], 8, [[[10, 13]]])


def test_grid_binding_rechecks_level_table():
    from detkit import _C

    cells = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="levels row 0 is out of range"):
        _C.grid_anchors(cells, np.array([[2, 2, 1, 3]]), np.ones((1, 2)), 0.0)
    with pytest.raises(ValueError, match="levels row 0 is out of range"):
        _C.grid_anchors(cells, np.array([[-1, 2, 0, 3]]), np.ones((1, 2)), 0.0)
    with pytest.raises(ValueError, match="strides must have one row per level"):
        _C.grid_anchors(cells, np.array([[2, 2, 0, 3]]), np.ones((2, 2)), 0.0)


def test_more_anchor_validation_paths():
    with pytest.raises(ValueError, match="min_ratio must be in"):
        detkit.DefaultBoxGenerator([[2]], min_ratio=-0.1)
    with pytest.raises(ValueError, match=r"steps\[0\] must be in \(0.0"):
        detkit.DefaultBoxGenerator([[2]], steps=[0])
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        detkit.DefaultBoxGenerator([[2]])((300, 300), [(3, 3)], dtype=np.float16)
    with pytest.raises(ValueError, match="strides must be a sequence of 1 strides"):
        detkit.make_anchor_points([(2, 2)], 8)
    with pytest.raises(TypeError, match="offset must be a real number"):
        detkit.make_anchor_points([(2, 2)], [8], offset="half")
    with pytest.raises(TypeError, match=r"feature_map_sizes\[0\] must be a \(height, width\) pair"):
        detkit.yolo_grid([4], [8], [[[10, 13]]])
    # The validated layout is cached per call signature; a bad call after a good one still fails.
    gen = detkit.AnchorGenerator()
    gen((64, 64), [(4, 4)])
    with pytest.raises(ValueError, match="larger than image_size"):
        gen((64, 64), [(128, 4)])
    np.testing.assert_array_equal(gen((64, 64), [(4, 4)]), gen((64, 64), [[4, 4]]))


@given(st.integers(1, 4), st.data())
def test_default_boxes_match_torchvision_on_random_configs(levels, data):
    pytest.importorskip("torchvision")
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator as TorchDefaultBoxGenerator

    ratios = [data.draw(st.lists(st.sampled_from([0.7, 1.5, 2, 3, 4.2]), max_size=3)) for _ in range(levels)]
    steps = data.draw(st.none() | st.lists(st.integers(1, 300), min_size=levels, max_size=levels))
    kwargs = dict(min_ratio=data.draw(st.floats(0.05, 0.5)), max_ratio=data.draw(st.floats(0.5, 1.2)),
                  steps=steps, clip=data.draw(st.booleans()))
    grids = [(data.draw(st.integers(1, 20)), data.draw(st.integers(1, 20))) for _ in range(levels)]
    image = (data.draw(st.integers(20, 700)), data.draw(st.integers(20, 700)))
    images, features = _torch_image_list(image, grids)
    want = TorchDefaultBoxGenerator(ratios, **kwargs)(images, features)[0].numpy()
    np.testing.assert_array_equal(detkit.DefaultBoxGenerator(ratios, **kwargs)(image, grids), want)


@given(generator_setups())
def test_anchor_generator_matches_torchvision_on_random_configs(setup):
    pytest.importorskip("torchvision")
    from torchvision.models.detection.anchor_utils import AnchorGenerator as TorchAnchorGenerator

    sizes, ratios, grids, image = setup
    images, features = _torch_image_list(image, grids)
    want = TorchAnchorGenerator(sizes, ratios)(images, features)[0].numpy()
    np.testing.assert_array_equal(detkit.AnchorGenerator(sizes, ratios)(image, grids), want)


def test_anchor_count_overflow_is_rejected_not_written_out_of_bounds():
    gen = detkit.AnchorGenerator(((32,),), ((0.5, 1.0, 2.0),))
    with pytest.raises(ValueError, match=r"feature_map_sizes \[\(4294967296, 4294967296\)\] give .* anchors"):
        gen((1, 1), [(2**32, 2**32)], strides=[1])
    with pytest.raises(ValueError, match="feature_map_sizes .* anchors, more than"):
        gen((2**40, 2**40), [(2**40, 2**40)])
    from detkit import _C

    cells = np.zeros((3, 4), np.float32)
    levels = np.array([[2**32, 2**32, 0, 3]], np.int64)
    with pytest.raises(ValueError, match="levels give too many anchors"):
        _C.grid_anchors(cells, levels, np.ones((1, 2)), 0.0)


def test_yolo_grid_empty_and_ragged_anchors():
    grid, anchor_wh, strides = detkit.yolo_grid([], [], np.zeros((0, 3, 2)))
    assert grid.shape == (0, 2) and anchor_wh.shape == (0, 2) and strides.shape == (0,)
    with pytest.raises(ValueError, match=r"anchors must be a \(2, A, 2\) array of numbers"):
        detkit.yolo_grid([(1, 1), (1, 1)], [8, 16], [[[1, 1]], [[1, 1], [2, 2]]])
    with pytest.raises(ValueError, match=r"anchors must be a \(1, A, 2\) array of numbers"):
        detkit.yolo_grid([(1, 1)], [8], [[["a", "b"]]])


def test_strides_may_be_numpy_arrays():
    fms = [(2, 3), (1, 2)]
    points, point_strides = detkit.make_anchor_points(fms, np.array([8, 16]))
    want_points, want_strides = detkit.make_anchor_points(fms, [8, 16])
    np.testing.assert_array_equal(points, want_points)
    np.testing.assert_array_equal(point_strides, want_strides)
    np.testing.assert_array_equal(detkit.make_anchor_points(fms, np.array([[8, 4], [16, 8]]))[0],
                                  detkit.make_anchor_points(fms, [(8, 4), (16, 8)])[0])
    gen = detkit.AnchorGenerator(((32,), (64,)), (1.0,))
    np.testing.assert_array_equal(gen((64, 64), fms, strides=np.array([8.0, 16.0])), gen((64, 64), fms, strides=[8, 16]))
    anchors = [[[10, 13]], [[30, 61]]]
    for got, want in zip(detkit.yolo_grid(fms, np.array([8, 16]), anchors), detkit.yolo_grid(fms, [8, 16], anchors)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="strides must be a sequence of 2 strides"):
        detkit.make_anchor_points(fms, np.array(8))
    with pytest.raises(ValueError, match="strides must have one number per feature map"):
        detkit.yolo_grid(fms, np.array([[8, 8], [16, 16]]), anchors)
