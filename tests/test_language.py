"""Reading text as a keyer does: the recogniser's alternatives weighed by the Japanese lexicon (real Janome/IPAdic)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.readers.language import JapaneseLexicon
from intake.readers.text import candidate_readings, read_line_with_lexicon
from intake.reasons import Reason


@pytest.fixture(scope="module")
def lexicon():
    return JapaneseLexicon()


@pytest.mark.parametrize("word, misread", [("営業部", "常業部"), ("経営企画室", "経営企面室"), ("高橋健太", "高橘健太"),
                                           ("株式会社日本サービス", "株式会社日本サーピス"), ("山口ひろし", "山ロひろし")])
def test_real_words_cost_less_than_their_misreadings(lexicon, word, misread):
    assert lexicon.cost(word) < lexicon.cost(misread)


class _Alternatives:
    """A recogniser's per-character alternatives for one line, as PP-OCR reports them."""

    def __init__(self, alternatives):
        self.alternatives = alternatives

    def character_alternatives(self, image, allowed):
        return self.alternatives


def test_the_lexicon_overrules_a_recogniser_that_prefers_a_non_word(lexicon):
    ocr = _Alternatives([[("常", 0.6), ("営", 0.35), ("嘗", 0.05)], [("業", 0.98), ("叢", 0.02)], [("部", 0.97), ("郡", 0.03)]])
    text, confidence = read_line_with_lexicon(ocr, lexicon, np.zeros((1, 1), np.uint8))
    assert text == "営業部"
    # The recogniser gave 営 only a third of its belief: the reading goes to review.
    assert confidence < 0.7


def test_a_clear_real_word_is_read_with_confidence(lexicon):
    ocr = _Alternatives([[("営", 0.95), ("常", 0.05)], [("業", 0.98), ("叢", 0.02)], [("部", 0.97), ("郡", 0.03)]])
    text, confidence = read_line_with_lexicon(ocr, lexicon, np.zeros((1, 1), np.uint8))
    assert text == "営業部" and confidence > 0.9


def test_two_real_readings_leave_the_line_in_doubt(lexicon):
    # 斉藤 and 齊藤 are both real surnames: the lexicon cannot settle it, so confidence stays low.
    ocr = _Alternatives([[("斉", 0.5), ("齊", 0.5)], [("藤", 0.99), ("籐", 0.01)]])
    _, confidence = read_line_with_lexicon(ocr, lexicon, np.zeros((1, 1), np.uint8))
    assert confidence < 0.9


alternatives = st.lists(
    st.lists(st.tuples(st.sampled_from("営常業部課室画面"), st.floats(0.001, 1.0)), min_size=1, max_size=4),
    min_size=1, max_size=6)


@settings(max_examples=50, deadline=None)
@given(alternatives)
def test_candidates_are_the_best_reading_and_its_near_neighbours(alts):
    candidates = candidate_readings(alts)
    best = "".join(a[0][0] for a in alts)
    assert candidates[0][0] == best
    for text, _ in candidates:
        assert len(text) == len(alts)
        assert sum(x != y for x, y in zip(text, best)) <= 2


def test_a_small_kana_read_full_size_is_put_right_by_the_lexicon(lexicon):
    # Handwritten ィ and イ differ only in size; the recogniser saw a full-size イ.
    word = "ホールディングス"
    alts = [[(c, 0.97)] for c in word]
    alts[4] = [("イ", 0.97)]
    text, confidence = read_line_with_lexicon(_Alternatives(alts), lexicon, np.zeros((1, 1), np.uint8))
    assert text == word
    assert confidence < 0.5  # chosen on the lexicon's word alone: a person checks it


REAL_NAMES = (
    "第一営業部 情報システム部 カスタマーサポート課 株式会社山口エンタープライズ 第二営業部門 経理課 キャンペーン終了のため "
    "経理部 人事部 経営企画室 品質保証部 法務部 秘書室 広報室 技術開発部 研究開発センター 購買部 物流部 海外事業部 事業推進室 "
    "総務課 カスタマーサクセス部 営業統括本部 販売企画課 商品開発部 生産管理部 設備管理課 経営管理本部 内部監査室 "
    "コンプライアンス推進室 お客様相談室 通信販売事業部 放送事業部 編成局 報道局 宣伝部 販促課 イベント企画室 "
    "メディア戦略部 コールセンター運営部 顧客サービス部 業務改革推進室 東日本営業部 西日本支社 札幌支店 福岡営業所 "
    "三菱商事株式会社 日本電信電話株式会社 株式会社ニトリ 株式会社ジャパネットたかた 富士通株式会社 株式会社博報堂 "
    "株式会社ベネッセコーポレーション 森永乳業株式会社 日清食品株式会社 株式会社朝日新聞社 日本放送協会 "
    "東日本旅客鉄道株式会社 全日本空輸株式会社 株式会社三井住友銀行 第一生命保険株式会社 野村證券株式会社 "
    "株式会社村田製作所 番組改編のため 臨時休業のため 設備点検のため 契約満了のため 回線工事のため 事務所移転のため"
).split()


@pytest.mark.parametrize("text", REAL_NAMES)
def test_real_words_raise_no_doubt(lexicon, text):
    assert lexicon.doubts(text) == ()


@pytest.mark.parametrize("text", ["第一首業部", "第二世業部門", "カスタマーーサポート課", "第-一営業部", "ソリリューション営業部", "経営企面室", "法人嘗業部",
                                  "営業推追部"])
def test_a_confident_non_word_raises_a_doubt(lexicon, text):
    # The true character was not among the recogniser's alternatives, so the lexicon could
    # only choose among wrong ones: the reading must still go to a person.
    assert {d.code for d in lexicon.doubts(text)} <= {"text_not_a_word", "text_doubled_char"} and lexicon.doubts(text)


@pytest.mark.parametrize("name", ["石井 聡", "前田恵", "山田太郎", "佐藤 美咲", "鈴木さくら", "長谷川翔", "高橋陽菜", "ささき 健",
                                  "佐々木ここ"])
def test_real_names_raise_no_doubt(lexicon, name):
    assert lexicon.doubts(name, "person_name") == ()


@pytest.mark.parametrize("name", ["石井聯", "前田意", "伊藤患"])
def test_a_given_name_that_is_only_a_common_noun_raises_a_doubt(lexicon, name):
    assert lexicon.doubts(name, "person_name") == (Reason.of("text_name_unknown"),)


@pytest.mark.parametrize("name", ["佐藤 ケンーー", "一一 太郎"])
def test_one_stroke_read_twice_in_a_name_raises_a_doubt(lexicon, name):
    # The dictionary judges names loosely (many real names are unknown words), but no name
    # has two dash-like marks in a row.
    assert "text_doubled_char" in [d.code for d in lexicon.doubts(name, "person_name")]
