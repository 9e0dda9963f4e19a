"""SimpleTIR void-turn filter in the trainer."""


def test_void_episodes_are_masked_out_of_the_update():
    """SimpleTIR's filter (algo.filter_void): an episode with a void turn keeps its place in the group
    baseline but gets zero advantage everywhere, so build_samples(drop_zero_advantage) skips it."""
    from turngym.core.episode import Episode, Turn
    from turngym.train.loop_helpers import mask_void_episodes

    def ep(void: bool, reward: float) -> Episode:
        turns = [Turn(index=0, observation="q", action="a", reward=0.0, info={"void_turn": void}),
                 Turn(index=1, observation="o", action="b", reward=reward, info={"void_turn": False})]
        for t in turns:
            t.advantage = 0.7
        return Episode(env_id="MathTool-v0", task_id="t", turns=turns, outcome_reward=reward)

    eps = [ep(True, 1.0), ep(False, 1.0), ep(False, 0.0)]
    assert mask_void_episodes(eps) == 1
    assert [t.advantage for t in eps[0].turns] == [0.0, 0.0]
    assert [t.advantage for t in eps[1].turns] == [0.7, 0.7]
