"""The text classification task: split, model, training report, saved classifier, padding invariance."""
import json

import numpy as np
import pytest

from rnnkit import load_model
from rnnkit.data import LabelledTexts, TextVectorization
from rnnkit.tasks import RunDirectory
from rnnkit.tasks.classify import (LengthBatches, TextClassifier, build_text_classifier, classification_metrics,
                                   format_classify_report, split_train_test, train_classifier)

POSITIVE = ["good", "great", "superb"]
NEGATIVE = ["bad", "awful", "poor"]
FILLER = ["the", "food", "was", "really", "and", "service", "a", "day", "it"]


def sentiment_data(count=120, seed=0):
    """Sentences of filler words with one class word each: learnable in a couple of epochs."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for index in range(count):
        label = index % 2
        words = list(rng.choice(FILLER, size=rng.integers(2, 9)))
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(POSITIVE if label else NEGATIVE)))
        texts.append(" ".join(words).capitalize() + "!")
        labels.append(label)
    return LabelledTexts(texts, np.array(labels, dtype=np.int64), ["negative", "positive"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("classify")
    result = train_classifier(sentiment_data(80), epochs=8, batch_size=8, embedding_dim=8, units=8, dropout=0.0,
                              learning_rate=0.05, out=out, verbose=0)
    return result, out


def test_training_learns_the_class_words_and_reports_per_class_metrics(trained):
    result, _ = trained
    metrics = result.metrics
    assert metrics["test_accuracy"] >= 0.9 and metrics["train_texts"] == 64 and metrics["test_texts"] == 16
    assert set(metrics["per_class"]) == {"negative", "positive"}
    assert sum(row["support"] for row in metrics["per_class"].values()) == 16
    assert np.asarray(metrics["confusion_matrix"]).sum() == 16


def test_output_folder_holds_model_metrics_history_and_plots(trained):
    _, out = trained
    for name in ("model.rnnkit", "metrics.json", "history.csv", "history.png", "confusion_matrix.png", "labels.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["label_counts"] == {"negative": 40, "positive": 40} and len(metrics["confusion_matrix"]) == 2
    assert (out / "history.csv").read_text().splitlines()[0].startswith("epoch,")


def test_saved_model_classifies_raw_text_alone(trained):
    result, out = trained
    classifier = TextClassifier.load(out / "model.rnnkit")
    texts = ["The food was superb", "Awful service", "", "!!!"]
    assert np.allclose(classifier.predict_proba(texts), result.classifier.predict_proba(texts), atol=1e-6)
    (first, p_first), (second, p_second), *_ = classifier.predict(texts)
    assert (first, second) == ("positive", "negative") and p_first > 0.5 and p_second > 0.5
    assert np.allclose(classifier.predict_proba(texts).sum(axis=1), 1.0, atol=1e-6)


def test_a_sentence_scores_the_same_alone_and_in_a_batch_with_longer_ones(trained):
    result, _ = trained
    classifier = result.classifier
    short = "Good food"
    longer = ["the food was really " * 8 + "bad", "it was a day and the service was really dull and poor"]
    alone = classifier.predict_proba([short])
    for batch_size in (1, 3):
        together = classifier.predict_proba([longer[0], short, longer[1]], batch_size=batch_size)
        np.testing.assert_allclose(together[1], alone[0], atol=1e-6)


def test_same_seed_gives_the_same_split_and_model():
    data = sentiment_data(40)
    first = train_classifier(data, epochs=1, embedding_dim=4, units=4, seed=3, verbose=0)
    second = train_classifier(data, epochs=1, embedding_dim=4, units=4, seed=3, verbose=0)
    assert first.metrics["confusion_matrix"].tolist() == second.metrics["confusion_matrix"].tolist()
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch):
    data = sentiment_data(40)
    settings = {"epochs": 3, "batch_size": 8, "embedding_dim": 4, "units": 4, "dropout": 0.5, "seed": 5, "verbose": 0}
    whole = train_classifier(data, out=tmp_path / "whole", **settings)
    backup, iterate = RunDirectory(tmp_path / "cut"), LengthBatches.__iter__

    def stop_after_the_first_backup(batches):
        if backup.has_unfinished_run():
            raise KeyboardInterrupt
        return iterate(batches)

    monkeypatch.setattr(LengthBatches, "__iter__", stop_after_the_first_backup)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(data, out=tmp_path / "cut", **settings)
    monkeypatch.undo()
    resumed = train_classifier(data, out=tmp_path / "cut", resume=True, **settings)
    assert len(resumed.history.history["loss"]) == 2  # the epochs after the backed-up first one
    for a, b in zip(whole.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_multi_class_data_uses_a_softmax_over_the_classes():
    data = sentiment_data(60)
    data = LabelledTexts(data.texts, np.arange(60) % 3, ["a", "b", "c"])
    result = train_classifier(data, epochs=1, embedding_dim=4, units=4, verbose=0)
    assert result.model.layers[-1].units == 3
    assert result.classifier.predict_proba(["good food"]).shape == (1, 3)
    assert set(result.metrics["per_class"]) == {"a", "b", "c"}


def test_split_is_seeded_disjoint_and_complete():
    train, test = split_train_test(50, 0.2, seed=1)
    assert len(test) == 10 and sorted(np.concatenate([train, test]).tolist()) == list(range(50))
    again, _ = split_train_test(50, 0.2, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, split_train_test(50, 0.2, seed=2)[0])


@pytest.mark.parametrize("count, test_size, message", [(10, 1.0, "between 0 and 1"), (2, 0.5, "too few")])
def test_split_refuses_impossible_sizes(count, test_size, message):
    with pytest.raises(ValueError, match=message):
        split_train_test(count, test_size)


def test_a_class_left_out_of_training_is_an_error_naming_it():
    data = LabelledTexts([f"a b {i}" for i in range(8)] + ["c d", "c e"], np.array([0] * 8 + [1, 1]), ["common", "rare"])
    # both rare texts land in test
    seed = next(s for s in range(1000) if {8, 9} <= set(split_train_test(10, 0.2, s)[1].tolist()))
    with pytest.raises(ValueError, match=r"no training text of class \['rare'\]"):
        train_classifier(data, test_size=0.2, seed=seed, epochs=1, verbose=0)


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'linear'; choose from cosine, constant"):
        train_classifier(sentiment_data(20), schedule="linear")


def test_length_batches_cover_every_text_once_padded_to_their_own_longest():
    vectorizer = TextVectorization(vocabulary=["w"])
    texts = ["w " * n for n in range(1, 41)]
    ids, labels = vectorizer(texts), np.arange(40)
    batches = list(LengthBatches(ids, labels, batch_size=8))
    assert len(batches) == 5 == len(LengthBatches(ids, labels, 8))
    assert sorted(np.concatenate([y for _, y in batches]).tolist()) == list(range(40))
    for x, y in batches:
        assert x.shape[1] == max(y) + 1 and np.array_equal(np.count_nonzero(x, axis=1), y + 1)


def test_classification_metrics_match_hand_counts():
    metrics = classification_metrics(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), ["a", "b", "c"])
    assert metrics["test_accuracy"] == pytest.approx(0.6)
    assert metrics["per_class"]["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8),
                                         "support": 2}
    assert metrics["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["confusion_matrix"].tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_report_shows_accuracy_baseline_table_and_matrix(trained):
    report = format_classify_report(trained[0].metrics)
    assert "test accuracy" in report and "most frequent class" in report
    assert "negative" in report and "macro avg" in report and "rows: true class" in report


def test_a_model_that_is_not_a_classifier_is_refused():
    model = build_text_classifier(10, 2)
    with pytest.raises(ValueError, match="not a text classifier"):
        TextClassifier(model)


def test_saved_assets_hold_vectorizer_and_labels(trained):
    _, out = trained
    assets = load_model(out / "model.rnnkit", compile=False).assets
    assert assets["task"] == "classify" and assets["labels"] == ["negative", "positive"]
    assert assets["vectorizer"]["vocabulary"][:2] == ["", "[UNK]"]
