"""Entity-level F1 (seqeval / conlleval rules) and token accuracy on hand-made examples."""

import pytest

from rnnkit.metrics_seq import bio_entities, entity_f1, token_accuracy


def test_bio_entities_spans():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-ORG", "O", "I-PER"]
    assert bio_entities(tags) == [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6), ("ORG", 6, 7),
                                  ("PER", 8, 9)]
    assert bio_entities(["O", "O"]) == []
    assert bio_entities(["B-X", "I-Y"]) == [("X", 0, 1), ("Y", 1, 2)]


def test_entity_f1_hand_made():
    refs = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    hyps = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "B-PER"]]
    # ref entities: PER(0,2), LOC(3,4), ORG(0,1) = 3; hyp: PER(0,2), ORG, PER(1,2) = 3; tp = 2
    m = entity_f1(refs, hyps)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)


def test_entity_f1_boundaries_and_types_must_match():
    assert entity_f1([["B-PER", "I-PER"]], [["B-PER", "O"]])["f1"] == 0.0
    assert entity_f1([["B-PER"]], [["B-LOC"]])["f1"] == 0.0
    assert entity_f1([["B-PER", "I-PER"]], [["B-PER", "I-PER"]])["f1"] == 1.0
    assert entity_f1([["O"]], [["O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_entity_f1_errors_and_accuracy():
    with pytest.raises(ValueError, match="equal lengths"):
        entity_f1([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="as many"):
        entity_f1([["O"]], [])
    assert token_accuracy([["O", "B-X", "O"], ["O"]], [["O", "O", "O"], ["O"]]) == 0.75
