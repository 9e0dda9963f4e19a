"""A minimal third-party env: repeat the secret word to win."""

from turngym.envs.base import InvalidAction, StepResult, TextEnv


class EchoEnv(TextEnv):
    """Say the secret word shown in the observation."""

    default_max_turns = 3

    def _reset(self, options):
        self.word = ["apple", "river", "stone"][int(self.np_random.integers(3))]
        self.task_id = f"echo-{self.word}"
        return f"Say: {self.word}", {}

    def admissible_actions(self):
        return ["apple", "river", "stone"]

    def expert_action(self):
        return self.word

    def _step(self, action):
        said = self.normalize_action(action)
        if said not in self.admissible_actions():
            raise InvalidAction("Say one of: apple, river, stone.")
        won = said == self.word
        return StepResult("Well done." if won else "Wrong word.", reward=float(won), terminated=True, won=won)


def register_envs():
    import turngym

    turngym.register("EchoPair-v0", EchoEnv, source="plugin:turngym-echo")
