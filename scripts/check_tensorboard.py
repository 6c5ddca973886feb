#!/usr/bin/env python3
"""Opens spk_train's TensorBoard event files with TensorBoard's own reader, where it is installed.

    scripts/check_tensorboard.py EXPS/RUN/tensorboard [--expect-tags train/loss,eval/eer]

Loads the folder with tensorboard.backend.event_processing.event_accumulator.EventAccumulator (the reader behind
TensorBoard's scalar and image dashboards), prints every tag with its steps and last value, and exits 1 when a tag
of --expect-tags is missing or the folder holds no events. Optional: when the `tensorboard` package is not
installed the script says so and exits 0 (spk does not depend on it; the test suite reads the files with its own
independent reader, tests/recipe/test_tensorboard.cpp).
"""
import argparse
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", help="<save_path>/tensorboard (or a single events.out.tfevents.* file)")
    ap.add_argument("--expect-tags", default="train/loss,train/lr,train/samples_per_sec",
                    help="comma-separated tags that must be present (default: %(default)s)")
    args = ap.parse_args()
    try:
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError:
        print("check_tensorboard: the tensorboard Python package is not installed; nothing checked "
              "(pip install tensorboard to run this check)")
        return 0

    acc = event_accumulator.EventAccumulator(args.folder, size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    found = set()
    for tag in sorted(tags.get("scalars", [])):
        events = acc.Scalars(tag)
        found.add(tag)
        print(f"scalar {tag}: {len(events)} points, steps {events[0].step}..{events[-1].step}, "
              f"last {events[-1].value:.6g}")
    for tag in sorted(tags.get("images", [])):
        events = acc.Images(tag)
        found.add(tag)
        print(f"image  {tag}: {len(events)} images, last {events[-1].width}x{events[-1].height} at step "
              f"{events[-1].step}, {len(events[-1].encoded_image_string)} bytes")
    missing = [t for t in args.expect_tags.split(",") if t and t not in found]
    if not found:
        print(f"check_tensorboard: no events in {args.folder}", file=sys.stderr)
        return 1
    if missing:
        print(f"check_tensorboard: missing tags: {', '.join(missing)}", file=sys.stderr)
        return 1
    print("check_tensorboard: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
