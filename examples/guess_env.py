"""A complete local env in 30 lines: guess a number from 1 to 9 (see README "Write your own env")."""

from typing import Any

from turngym.envs.base import InvalidAction, StepResult, TextEnv


class GuessEnv(TextEnv):
    """Guess the hidden number from 1 to 9; the env says higher or lower."""

    default_max_turns = 6  # make(..., max_turns=N) overrides it; reaching it truncates the episode

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.target = int(self.np_random.integers(1, 10))  # np_random is already seeded by reset(seed=)
        self.task_id = f"guess-{self.target}"  # same task id => same task (replay, grouping)
        return "Guess a number from 1 to 9.", {}

    def _step(self, action: str) -> StepResult:
        text = self.normalize_action(action)
        if text not in {"1", "2", "3", "4", "5", "6", "7", "8", "9"}:  # (int() of a 5,000-digit reply raises)
            raise InvalidAction("Say a number from 1 to 9.")  # before any state change
        guess = int(text)
        if guess == self.target:
            return StepResult("Correct!", reward=1.0, terminated=True, won=True)
        return StepResult("Higher." if guess < self.target else "Lower.")

    def admissible_actions(self) -> list[str]:
        return [str(i) for i in range(1, 10)]

    def expert_action(self) -> str:
        return str(self.target)
