"""Registers the envs that ship with turngym. Imported lazily by the registry."""

from turngym.envs.registration import register, registry

_BUILTIN = {
    "KeyDoor-v0": "turngym.envs.toys.keydoor:KeyDoorEnv",
    "ToolCalc-v0": "turngym.envs.toys.toolcalc:ToolCalcEnv",
    "ALFWorld-v0": "turngym.envs.alfworld.env:ALFWorldEnv",
    "WebShop-v0": "turngym.envs.webshop.env:WebShopEnv",
    "SearchQA-v0": "turngym.envs.searchqa.env:SearchQAEnv",
    "Code-v0": "turngym.envs.code.env:CodeEnv",
    "ToolCall-v0": "turngym.envs.toolcall.env:ToolCallEnv",
    "Discussion-v0": "turngym.envs.discussion.env:DiscussionEnv",
    "MathTool-v0": "turngym.envs.mathtool.env:MathToolEnv",
}

for _env_id, _entry in _BUILTIN.items():
    if _env_id not in registry:
        register(_env_id, _entry)
