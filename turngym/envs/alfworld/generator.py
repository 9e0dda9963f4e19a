"""Generate real ALFWorld games from what the alfworld wheel ships (no 2 GB data download).

The wheel carries, per AI2-THOR floor plan, the receptacles with the pose the agent interacts from
(``FloorPlanN-openable.json``), the object types present (``FloorPlanN-objects.json``) and the
reachable grid (``FloorPlanN-layout.npy``), plus ALFRED's affordance tables (``gen/constants.py``)
and goal templates (``gen/goal_library.py``). From those we write the PDDL problem ALFWorld would
have exported for a (floor plan, task type, object, receptacle) and wrap it as ``game.tw-pddl`` with
its ``traj_data.json``: ALFWorld's own engine and expert play it unchanged.

Rules learned from what the engine and expert accept (DESIGN.md §4): never start a target inside a
receptacle of the goal type; no clean→SinkBasin, heat→Microwave, cool→Fridge goals; only DeskLamps
(FloorLamp tasks are unsolvable in ALFWorld too), standing on a receptacle that shares its location
with no other receptacle.

Every random draw goes through :class:`StableRng` (SHA-256 counters), so a (version, seed, split,
index) gives the same game on every machine and Python version.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from turngym.envs.alfworld.engine import build_game, require_alfworld

#: Bump when anything below changes the games produced for a given (seed, split, index).
GENERATOR_VERSION = "1"

ROOM_TYPES: dict[str, range] = {
    "Kitchen": range(1, 31),
    "LivingRoom": range(201, 231),
    "Bedroom": range(301, 331),
    "Bathroom": range(401, 431),
}
#: Task types ALFRED defines per room type (``constants.GOALS_VALID``).
VALID_ROOMS: dict[str, tuple[str, ...]] = {
    "pick_and_place_simple": ("Kitchen", "LivingRoom", "Bathroom", "Bedroom"),
    "pick_two_obj_and_place": ("Kitchen", "LivingRoom", "Bathroom", "Bedroom"),
    "look_at_obj_in_light": ("LivingRoom", "Bedroom"),
    "pick_clean_then_place_in_recep": ("Kitchen", "Bathroom"),
    "pick_heat_then_place_in_recep": ("Kitchen",),
    "pick_cool_then_place_in_recep": ("Kitchen",),
}
#: The state-changing receptacle of each task type, never also its goal receptacle.
TOOL_RECEPTACLE = {
    "pick_clean_then_place_in_recep": "SinkBasin",
    "pick_heat_then_place_in_recep": "Microwave",
    "pick_cool_then_place_in_recep": "Fridge",
}
REQUIRED_PROPERTY = {
    "pick_clean_then_place_in_recep": "Cleanable",
    "pick_heat_then_place_in_recep": "Heatable",
    "pick_cool_then_place_in_recep": "Coolable",
}
LAMP_RECEPTACLES = ("Desk", "SideTable", "Dresser", "DiningTable", "CoffeeTable", "Shelf")

T = TypeVar("T")


class StableRng:
    """Random draws fixed by a key on every machine: SHA-256 of (key, counter).

    ``random.Random`` only guarantees ``random()`` across Python versions and numpy's Generator
    methods may change streams; pinned task sets must not depend on either.
    """

    def __init__(self, *key: object) -> None:
        self._key = "/".join(map(str, key))
        self._n = 0

    def _u64(self) -> int:
        digest = hashlib.sha256(f"{self._key}#{self._n}".encode()).digest()
        self._n += 1
        return int.from_bytes(digest[:8], "little")

    def below(self, n: int) -> int:
        if n <= 0:
            raise ValueError("below() needs n >= 1")
        return self._u64() % n

    def random(self) -> float:
        return self._u64() / 2.0**64

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.below(len(seq))]

    def shuffled(self, seq: Sequence[T]) -> list[T]:
        out = list(seq)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


def room_type(scene_num: int) -> str:
    for name, nums in ROOM_TYPES.items():
        if scene_num in nums:
            return name
    raise ValueError(f"FloorPlan{scene_num} is not an ALFRED scene")


def thor_escape(name: str) -> str:
    """THOR id → PDDL name, as ALFWorld exports them (``Mug|+01.00|...`` → ``Mug_bar__plus_01_dot_00...``)."""
    return name.replace("-", "_minus_").replace("|", "_bar_").replace("+", "_plus_").replace(".", "_dot_").replace(",", "_comma_")


def _loc_name(x: float, z: float, rotation: float, horizon: float) -> str:
    return thor_escape(f"loc|{round(x / 0.25)}|{round(z / 0.25)}|{round(rotation / 90) % 4}|{round(horizon)}")


# -- the wheel's floor plans ----------------------------------------------------------------------
@dataclass(frozen=True)
class SceneReceptacle:
    thor_id: str
    rtype: str
    location: str
    coords: tuple[float, float, float]


@dataclass(frozen=True)
class Scene:
    num: int
    receptacles: tuple[SceneReceptacle, ...]
    object_types: tuple[str, ...]
    start_points: tuple[tuple[float, float], ...]

    @property
    def room(self) -> str:
        return room_type(self.num)

    def receptacle_types(self) -> set[str]:
        return {r.rtype for r in self.receptacles}


def _layouts_dir() -> str:
    require_alfworld()
    import alfworld.gen

    return os.path.join(os.path.dirname(alfworld.gen.__file__), "layouts")


@functools.cache
def available_floorplans() -> tuple[int, ...]:
    nums = []
    for name in os.listdir(_layouts_dir()):
        if name.startswith("FloorPlan") and name.endswith("-openable.json"):
            nums.append(int(name[len("FloorPlan"):-len("-openable.json")]))
    return tuple(sorted(nums))


@functools.cache
def load_scene(num: int) -> Scene:
    import numpy as np

    base = os.path.join(_layouts_dir(), f"FloorPlan{num}")
    with open(base + "-openable.json", encoding="utf-8") as f:
        poses = json.load(f)
    with open(base + "-objects.json", encoding="utf-8") as f:
        object_types = tuple(sorted(set(json.load(f))))
    receptacles = []
    for thor_id in sorted(poses):
        parts = thor_id.split("|")
        rtype = parts[4] if len(parts) == 5 else parts[0]  # "Sink|x|y|z|SinkBasin" is a SinkBasin
        coords = tuple(float(p) for p in parts[1:4])
        x, z, rotation, horizon = poses[thor_id]
        receptacles.append(SceneReceptacle(thor_id, rtype, _loc_name(x, z, rotation, horizon), coords))  # type: ignore[arg-type]
    points = np.load(base + "-layout.npy")
    start_points = tuple((float(x), float(z)) for x, z in points.tolist())
    return Scene(num, tuple(receptacles), object_types, start_points)


# -- affordances (ALFRED's tables) ----------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _affordances() -> dict[str, Any]:
    require_alfworld()
    import alfworld.gen.constants as c

    rtypes = set(c.VAL_RECEPTACLE_OBJECTS) - set(c.MOVABLE_RECEPTACLES)
    otypes = (set(c.OBJECTS) | {"DeskLamp", "FloorLamp"}) - rtypes
    contain = {r: set(objs) & otypes for r, objs in c.VAL_RECEPTACLE_OBJECTS.items() if r in rtypes}
    pickupable = set().union(*contain.values()) - set(c.STATIC_RECEPTACLES) - {"DeskLamp", "FloorLamp"}
    return {
        "contain": contain,
        "pickupable": pickupable,
        "actions": {k: set(v) for k, v in c.VAL_ACTION_OBJECTS.items()},
        "movable_receptacles": set(c.MOVABLE_RECEPTACLES),
        "openable": set(c.OPENABLE_CLASS_LIST),
        # PDDL names are case-insensitive, so a type is either an rtype (static receptacle) or an
        # otype, never both (Mug is a receptacle in THOR but an object here, as in ALFWorld).
        "rtypes": sorted(rtypes),
        "otypes": sorted(otypes),
    }


def _can_contain(rtype: str, otype: str) -> bool:
    return otype in _affordances()["contain"].get(rtype, set())


# -- task specs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskSpec:
    """What a game asks, before objects are placed: the part a pinned task list is made of."""

    scene_num: int
    task_type: str
    object_target: str
    parent_target: str = ""
    toggle_target: str = ""

    @property
    def room(self) -> str:
        return room_type(self.scene_num)

    def name(self) -> str:
        """ALFRED's folder name: ``<task>-<object>-<movable recep>-<receptacle or lamp>-<scene>``."""
        return f"{self.task_type}-{self.object_target}-None-{self.parent_target or self.toggle_target}-{self.scene_num}"


def candidate_specs(scene: Scene, task_type: str) -> list[TaskSpec]:
    """Every (object, receptacle/lamp) goal this floor plan supports for a task type."""
    aff = _affordances()
    if scene.room not in VALID_ROOMS[task_type]:
        return []
    present = set(scene.object_types)
    rtypes = scene.receptacle_types()
    # an object type is usable if some receptacle of the scene can hold it at the start
    placeable = {o for o in present & aff["pickupable"] if any(_can_contain(r, o) for r in rtypes)}
    specs: list[TaskSpec] = []
    if task_type == "look_at_obj_in_light":
        if "DeskLamp" not in present or not _lamp_receptacles(scene):
            return []
        return [TaskSpec(scene.num, task_type, o, toggle_target="DeskLamp") for o in sorted(placeable)]
    tool = TOOL_RECEPTACLE.get(task_type)
    if tool is not None and tool not in rtypes:
        return []
    prop = REQUIRED_PROPERTY.get(task_type)
    for obj in sorted(placeable):
        if prop is not None and obj not in aff["actions"][prop]:
            continue
        for parent in sorted(rtypes):
            if parent == tool or not _can_contain(parent, obj):
                continue
            if tool == "SinkBasin" and parent in {"SinkBasin", "BathtubBasin"}:
                continue
            # the target must be able to start somewhere that is not the goal type
            if not any(_can_contain(r, obj) for r in rtypes if r != parent):
                continue
            specs.append(TaskSpec(scene.num, task_type, obj, parent_target=parent))
    return specs


def _lamp_receptacles(scene: Scene) -> list[SceneReceptacle]:
    """Receptacles a desk lamp can stand on: a lamp type, alone at its location."""
    counts: dict[str, int] = {}
    for r in scene.receptacles:
        counts[r.location] = counts.get(r.location, 0) + 1
    return [r for r in scene.receptacles if r.rtype in LAMP_RECEPTACLES and counts[r.location] == 1]


# -- game construction ----------------------------------------------------------------------------
@dataclass
class GeneratedGame:
    spec: TaskSpec
    task_desc: str
    pddl_problem: str
    traj_data: dict[str, Any] = field(default_factory=dict)

    def game(self) -> dict[str, Any]:
        return build_game(self.pddl_problem, self.task_desc)


def _fmt_coord(v: float) -> str:
    return f"{v:+06.2f}"


def _instance_id(otype: str, base: tuple[float, float, float], k: int, rng: StableRng) -> str:
    x, y, z = base
    dx = (rng.below(41) - 20) / 100.0
    dz = (rng.below(41) - 20) / 100.0
    dy = 0.05 + k * 0.01
    return f"{otype}|{_fmt_coord(x + dx)}|{_fmt_coord(y + dy)}|{_fmt_coord(z + dz)}"


def _task_desc(spec: TaskSpec, rng: StableRng) -> str:
    import alfworld.gen.goal_library as glib

    template = rng.choice(glib.gdict[spec.task_type]["templates"])
    return template.format(obj=spec.object_target.lower(), recep=spec.parent_target.lower(), toggle=spec.toggle_target.lower(), mrecep="")


def _goal(spec: TaskSpec) -> str:
    import alfworld.gen.goal_library as glib

    pddl = glib.gdict[spec.task_type]["pddl"].replace("#", "-")
    return pddl.format(obj=spec.object_target, recep=spec.parent_target, toggle=spec.toggle_target, mrecep="")


def generate_game(spec: TaskSpec, rng: StableRng, *, task_id: str) -> GeneratedGame:
    """Place objects for ``spec`` and write the PDDL problem ALFWorld's engine loads."""
    aff = _affordances()
    scene = load_scene(spec.scene_num)
    target = spec.object_target
    goal_types = {spec.parent_target} if spec.parent_target else set()

    # objects: every pickupable type of the scene, 1-3 instances; the target 1-3 (2-3 for pick-two)
    placements: list[tuple[str, SceneReceptacle]] = []
    for otype in scene.object_types:
        if otype not in aff["pickupable"]:
            continue
        if otype == target:
            options = [r for r in scene.receptacles if _can_contain(r.rtype, otype) and r.rtype not in goal_types]
            low = 2 if spec.task_type == "pick_two_obj_and_place" else 1
        else:
            options = [r for r in scene.receptacles if _can_contain(r.rtype, otype)]
            low = 1
        if not options:
            continue
        for _ in range(low + rng.below(3 - low + 1)):
            placements.append((otype, rng.choice(options)))
    lamp_on: SceneReceptacle | None = None
    if "DeskLamp" in scene.object_types:
        lamps = _lamp_receptacles(scene)
        if lamps:
            lamp_on = rng.choice(lamps)

    objects: list[tuple[str, str, SceneReceptacle]] = []  # (pddl name, otype, receptacle)
    used: set[str] = set()
    for k, (otype, recep) in enumerate(placements):
        thor_id = _instance_id(otype, recep.coords, k, rng)
        while thor_id in used:
            thor_id = _instance_id(otype, recep.coords, k, rng)
        used.add(thor_id)
        objects.append((thor_escape(thor_id), otype, recep))
    if lamp_on is not None:
        objects.append((thor_escape(_instance_id("DeskLamp", lamp_on.coords, len(objects), rng)), "DeskLamp", lamp_on))
    if spec.task_type == "look_at_obj_in_light" and lamp_on is None:
        raise ValueError(f"{spec}: no place for a desk lamp")
    if not any(otype == target for _, otype, _ in objects):
        raise ValueError(f"{spec}: the target could not be placed")

    # agent start: a reachable grid point, not a receptacle's interaction pose
    recep_locs = {r.location for r in scene.receptacles}
    start = None
    for _ in range(16):
        x, z = rng.choice(scene.start_points)
        candidate = _loc_name(x, z, 90 * rng.below(4), 30)
        if candidate not in recep_locs:
            start = candidate
            break
    if start is None:
        start = _loc_name(*rng.choice(scene.start_points), 0, 30) + "_bar_start"

    problem = _problem_text(task_id, scene, objects, start, spec)
    desc = _task_desc(spec, rng)
    traj = {
        "task_id": task_id,
        "task_type": spec.task_type,
        "pddl_params": {
            "mrecep_target": "",
            "object_sliced": False,
            "object_target": spec.object_target,
            "parent_target": spec.parent_target,
            "toggle_target": spec.toggle_target,
        },
        "scene": {"floor_plan": f"FloorPlan{scene.num}", "scene_num": scene.num},
        "turk_annotations": {"anns": [{"task_desc": desc}]},
        "generator": {"version": GENERATOR_VERSION, "spec": asdict(spec)},
    }
    return GeneratedGame(spec=spec, task_desc=desc, pddl_problem=problem, traj_data=traj)


def _problem_text(task_id: str, scene: Scene, objects: list[tuple[str, str, SceneReceptacle]], start: str, spec: TaskSpec) -> str:
    aff = _affordances()
    receptacles = [(thor_escape(r.thor_id), r) for r in scene.receptacles]
    locations = sorted({r.location for r in scene.receptacles} | {start})
    decl = ["agent1 - agent"]
    decl += [f"{t}Type - otype" for t in aff["otypes"]]
    decl += [f"{t}Type - rtype" for t in aff["rtypes"]]
    decl += [f"{name} - object" for name, _, _ in sorted(objects)]
    decl += [f"{name} - receptacle" for name, _ in receptacles]
    decl += [f"{loc} - location" for loc in locations]

    init: list[str] = []
    for name, r in receptacles:
        init.append(f"(receptacleType {name} {r.rtype}Type)")
    for name, otype, _ in objects:
        init.append(f"(objectType {name} {otype}Type)")
    for rtype in sorted({r.rtype for r in scene.receptacles}):
        for otype in sorted(aff["contain"].get(rtype, ())):
            init.append(f"(canContain {rtype}Type {otype}Type)")
    for name, otype, _ in objects:
        if otype in aff["pickupable"]:
            init.append(f"(pickupable {name})")
        if otype in aff["movable_receptacles"]:
            init.append(f"(isReceptacleObject {name})")
        for prop, pred in (("Cleanable", "cleanable"), ("Heatable", "heatable"), ("Coolable", "coolable"), ("Sliceable", "sliceable"), ("Toggleable", "toggleable")):
            if otype in aff["actions"][prop]:
                init.append(f"({pred} {name})")
    for name, r in receptacles:
        if r.rtype in aff["openable"]:
            init.append(f"(openable {name})")
    init.append(f"(atLocation agent1 {start})")
    recep_name = {id(r): n for n, r in receptacles}
    for name, _, r in objects:
        init.append(f"(inReceptacle {name} {recep_name[id(r)]})")
    for name, r in receptacles:
        init.append(f"(receptacleAtLocation {name} {r.location})")
    for name, _, r in objects:
        init.append(f"(objectAtLocation {name} {r.location})")

    indent = "\n        "
    return (
        f"\n(define (problem plan_{task_id})\n(:domain alfred)\n(:objects\n        {indent.join(decl)}\n        )\n\n"
        f"(:init\n        {indent.join(init)}\n        )\n\n{_goal(spec)}"
    )
