#!/usr/bin/python3
"""card.py NAME RUN THREADS - the model card of a shipped model, from its
adapt.sh run folder: what it maps, from which bands at which GSD, what it
was trained on (and the data's licences), how it scored on held-back data,
and how long it took."""
import json
import os
import sys

sys.path.insert(0, "python")
from landshift_frames import model_meta  # noqa: E402

DATA = {
    "buildings": ("Rio de Janeiro (SpaceNet 1, 15 WorldView-2 images) and the western two thirds of an Atlanta "
                  "scene (SpaceNet 4, WorldView-2, 10° off nadir)",
                  "SpaceNet Dataset by SpaceNet Partners, CC BY-SA 4.0. The weights are derived from it: "
                  "share them under the same terms.",
                  "the eastern third of the Atlanta scene (never seen in training)"),
    "trees": ("the first three quarters (69) of the Santa Monica NAIP 2020 chips of the Urban Tree Detection "
              "Data (Ventura et al.), trees as 2.4 m discs around surveyed points",
              "NAIP imagery public domain; the tree annotations CC BY 4.0 (cite Ventura et al., \"Individual tree "
              "detection in large-scale urban environments using high-resolution multispectral imagery\").",
              "the last quarter (23 chips) of the Santa Monica chips, against their surveyed tree points"),
    "trees-rgb": ("the first three quarters (69) of the Santa Monica NAIP 2020 chips of the Urban Tree Detection "
                  "Data (Ventura et al.) read as R, G, B alone (the near-infrared band left out), trees as 2.4 m "
                  "discs around surveyed points",
                  "NAIP imagery public domain; the tree annotations CC BY 4.0 (cite Ventura et al., \"Individual tree "
                  "detection in large-scale urban environments using high-resolution multispectral imagery\").",
                  "the last quarter (23 chips) of the Santa Monica chips read as R, G, B, against their surveyed tree points",
                  "for an RGB camera's scenes: where the near-infrared band exists, trees.model (which uses it) "
                  "scores higher."),
    "roads": ("the western two thirds of a Las Vegas scene (SpaceNet 3, WorldView-3 panchromatic, 0.3 m), "
              "roads as the data's road mask",
              "SpaceNet Dataset by SpaceNet Partners, CC BY-SA 4.0. The weights are derived from it: "
              "share them under the same terms.",
              "the eastern third of the Las Vegas scene (never seen in training), against its surveyed centrelines"),
    "multiclass": ("buildings: the western two thirds of the Atlanta scene (SpaceNet 4); trees: Santa Monica NAIP "
                   "chips 0-15 (Urban Tree Detection Data, R, G, B); roads: the western two thirds of the Las Vegas "
                   "scene (SpaceNet 3, panchromatic as grey R, G, B); buildings and trees: the Zurich SWISSIMAGE "
                   "scene with its LiDAR labels. Each source speaks for its own classes only (partial labels)",
                   "SpaceNet Dataset by SpaceNet Partners, CC BY-SA 4.0 (the weights are derived from it: share them "
                   "under the same terms); NAIP public domain, tree annotations CC BY 4.0 (Ventura et al.); "
                   "the Zurich SWISSIMAGE orthophoto and the classes of its LiDAR point cloud: swisstopo open "
                   "government data (attribution \"© swisstopo\"), via the test data of martibosch/detectree.",
                   "each class on its own held-back part: Atlanta's eastern third (buildings), Santa Monica "
                   "chips 80-87 (trees), Las Vegas' eastern third (roads), as the map decides (the most probable class)",
                   "roads were learned from panchromatic Las Vegas alone: on colour imagery of other places the road "
                   "class misses roads and takes shorelines (seen on the Zurich lake shore); roads.model maps "
                   "panchromatic roads better, and the one-class models score higher on their own class."),
}
LIMITS = {name: v[3] for name, v in DATA.items() if len(v) > 3}


def per_class(m, names):
    """'building IoU 0.43, tree IoU 0.24, road IoU 0.50' from a multi-class run's metrics"""
    return ", ".join(f"{c} IoU **{m[c + '_iou']:.3f}**" for c in names if m.get(c + "_iou") is not None)


def main():
    name, run, threads = sys.argv[1:4]
    meta = dict(model_meta(f"{run}/model"))
    m = json.load(open(f"{run}/metrics.json"))
    secs = int(open(f"{run}/seconds").read())
    trained, licence, held = DATA[name][:3]
    bands = {k[6:]: v for k, v in meta.items() if k.startswith("bands.")}
    names = meta.get("classes", "").split(",")[1:]
    cls = m.get("class", ",".join(names))
    gsd = (f"{meta['gsd']} m" if "gsd" in meta else f"the training rasters' own ({meta['gsd_range']} m): a scene is "
           "mapped at its own" if "gsd_range" in meta else "the training rasters' own")
    roads = (f"centreline F1 **{m['road_f1']:.3f}** within 2 m (completeness {m['completeness']:.3f}, correctness "
             f"{m['correctness']:.3f}), APLS {m['apls']:.3f}; {cls} IoU {m['iou']:.3f} against the road mask"
             if "road_f1" in m and m.get("apls") is not None else None)
    score = per_class(m, names) if len(names) > 1 else roads or (f"point F1 **{m['point_f1']:.3f}** (precision {m['point_precision']:.3f}, recall "
             f"{m['point_recall']:.3f}: {m['points_found']} of {m['points']} surveyed trees found within 3 m); "
             f"{cls} IoU {m['iou']:.3f} against the discs" if "point_f1" in m else
             f"{cls} IoU **{m['iou']:.3f}**, F1 {m['f1']:.3f}, object F1 {m['object_f1']:.3f} (polygons matched at IoU ≥ 0.5)")
    loss = f", cross-entropy + {meta['dice']} × soft Dice" if "dice" in meta else ""
    zoom = 1 + float(meta.get("scale_jitter", 0))   # critic-train --scale-jitter S: 1/(1+S) to 1+S
    aug = f", each tile zoomed at random by 1/{zoom:g} to {zoom:g}" if zoom > 1 else ""
    run_txt = open(f"{run}/run.txt").read().splitlines()
    seed = next((line.split()[1] for line in run_txt if line.startswith("seed ")), "1")
    tiles = next(("every labelled tile (none held out for validation)" for line in run_txt
                  if line.startswith("training ") and "--val-frac 0 " in line + " "), "")
    weights = {"i16": ", convolution weights stored as 16-bit integers",
               "i8": ", convolution weights stored as 8-bit integers"}.get(meta.get("weights"), "")
    members = open(f"{run}/members").read().split() if os.path.exists(f"{run}/members") else []
    if members:     # an ensemble: its seeds, and each member's own score
        alone = [json.load(open(f"{d}/metrics.json")) for d in members]
        key = "point_f1" if "point_f1" in m else "iou"
        seeds = meta.get("seeds", "?").replace(",", ", ")
        who = (f"an ensemble of {len(members)} networks, seeds {seeds}, each the last epoch; mapping averages "
               f"their probabilities (each alone scores {cls} {'point F1' if key == 'point_f1' else 'IoU'} "
               + ", ".join(f"{a[key]:.3f}" for a in alone) + ")")
        fast = (f" Each tile goes through its {len(members)} networks; `--members 1` maps with the first "
                f"alone, in 1/{len(members)} of the model's time (its own held-back score, in float: {alone[0][key]:.3f}).")
    else:
        who, fast = f"seed {seed}, the last epoch", ""
    print(f"""# {name}.model

| | |
|---|---|
| maps | {meta.get('classes', 'background,' + cls)} |
| bands | {'; '.join(f'{v} (stem {k})' for k, v in bands.items())} |
| ground sample distance | {gsd} |
| normalisation | each scene standardised with its own band statistics (in training: {meta.get('normalisation')}) |
| architecture | `{meta['spec']}` ({os.path.getsize(f'{run}/model') // 1024} KB{weights}) |
| training | {meta.get('training')}{loss}{aug}, {tiles + ', ' if tiles else ''}{who}; {threads} thread{'' if threads == '1' else 's'}, {secs / 60:.0f} min{' in all' if members else ''} |
| trained on | {trained} |
| held-back score | {score}, on {held} |
| licences | {licence} |{chr(10) + "| limits | " + LIMITS[name] + " |" if name in LIMITS else ""}
| made by | `MODELS={name} THREADS={threads} make models` (egs/models/run.sh): the same threads give the same bytes |

Map a scene with it: `bin/map --model models/{name}.model scene.tif --out maps`.{fast} A scene from
another sensor or place: `--adapt adabn`, or adapt with `pipelines/adapt.sh --method selftrain
--init models/{name}.model` (docs/results.md says which helps where).
""")


if __name__ == "__main__":
    main()
