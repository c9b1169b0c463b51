"""Task models: recurrent layers + heads, each with a frozen config dataclass, no training loop.

Forecaster (lookback → horizon, point + probabilistic), SequenceClassifier (numeric sequences,
pooling, optional conv front end), TextClassifier (+ TextEncoderLM, its language-model
pretraining), NBLogisticClassifier (NB-weighted n-gram logistic regression, an ensemble
member), ProbabilityEnsemble, LanguageModel (stateful generation), Seq2Seq (attention,
greedy / beam search), Tagger (BiRNN with optional CRF).
"""

from rnnkit.models.attention import ATTENTION_KINDS, Attention
from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent
from rnnkit.models.beam_search import beam_search, greedy_decode
from rnnkit.models.crf import CRF
from rnnkit.models.ensemble import ProbabilityEnsemble
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.nb_classifier import NBLogisticClassifier, NBLogisticConfig
from rnnkit.models.pooling import POOLINGS, SequencePooling
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.models.tagger import Tagger, TaggerConfig
from rnnkit.models.text_classifier import TextClassifier, TextClassifierConfig, TextEncoderLM

__all__ = [
    "ATTENTION_KINDS",
    "CRF",
    "MODEL_KINDS",
    "POOLINGS",
    "Attention",
    "Forecaster",
    "ForecasterConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "NBLogisticClassifier",
    "NBLogisticConfig",
    "ProbabilityEnsemble",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequencePooling",
    "Tagger",
    "TaggerConfig",
    "TextClassifier",
    "TextClassifierConfig",
    "TextEncoderLM",
    "backbone_output_size",
    "beam_search",
    "build_recurrent",
    "greedy_decode",
]
