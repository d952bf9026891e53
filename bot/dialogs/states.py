"""Every conversation state of every flow, named in one place."""

from enum import StrEnum


class State(StrEnum):
    LANGUAGE = "language"
    MENU = "menu"
    SUBSCRIBE = "subscribe"  # consent to announcements
    # filing a complaint
    CATEGORY = "complaint.category"
    DESCRIPTION = "complaint.description"
    PLACE = "complaint.place"
    PHOTOS = "complaint.photos"
    IDENTITY = "complaint.identity"
    NAME = "complaint.name"
    PHONE = "complaint.phone"
    CONTACT_ADDRESS = "complaint.contact_address"
    CONFIRM = "complaint.confirm"
    EDIT = "complaint.edit"
    VOICE_CHOICE = "complaint.voice_choice"  # anonymous with a voice: keep, type instead, cancel
    UNFINISHED = "complaint.unfinished"  # leave the draft? continue or discard
    # checking a complaint by number and receipt code
    CHECK_NUMBER = "check.number"
    CHECK_CODE = "check.code"
    # questions and answers
    FAQ_TOPICS = "faq.topics"
    FAQ_LIST = "faq.list"  # one topic's questions, a page at a time
    FAQ_RESULTS = "faq.results"  # entries found for a typed question
    FAQ_ANSWER = "faq.answer"
    FAQ_ASK = "faq.ask"  # nothing fits: send the question to the operators?
    # satisfaction survey
    SURVEY_RESUME = "survey.resume"  # an unfinished survey: continue it or start anew?
    SURVEY_SERVICE = "survey.service"
    SURVEY_MODE = "survey.mode"  # one quick question, or the full survey
    SURVEY_RATE = "survey.rate"  # one 1-5 question (overall or an aspect)
    SURVEY_MORE = "survey.more"  # after the quick question: go on or stop
    SURVEY_RESULT = "survey.result"
    SURVEY_MONEY = "survey.money"  # official / unofficial / incidental payments
    SURVEY_REPORT = "survey.report"  # offered once: an anonymous report of an unofficial payment
    SURVEY_REPORT_TEXT = "survey.report_text"  # its optional details
    SURVEY_IMPROVE = "survey.improve"
    SURVEY_PROFILE = "survey.profile"  # respondent data, each skippable
    # public hearings and the topics of announcements
    HEARING_PROPOSAL = "hearings.proposal"  # a citizen's proposal for a hearing
    TOPICS = "topics.choose"  # the topics a citizen wants announcements about
    # after filing: additions, withdrawal, answers to the operators' questions, the follow-up
    ADDING = "thread.adding"  # adding text or photos to an open complaint
    WITHDRAW_CONFIRM = "thread.withdraw"  # really withdraw it?
    CLARIFY_ANSWER = "thread.clarify"  # answering an operator's clarifying question
    FOLLOW_UP_REASON = "follow_up.reason"  # "not solved": what is still wrong


# States in which a photo is added to the complaint being written.
PHOTO_STATES = frozenset({State.DESCRIPTION, State.PLACE, State.PHOTOS})

# States in which a complaint is being written: leaving them would lose the draft.
DRAFT_STATES = frozenset(
    {
        State.CATEGORY,
        State.DESCRIPTION,
        State.PLACE,
        State.PHOTOS,
        State.IDENTITY,
        State.NAME,
        State.PHONE,
        State.CONTACT_ADDRESS,
        State.CONFIRM,
        State.EDIT,
        State.VOICE_CHOICE,
    }
)
# Steps reached from the summary's "Change something": each offers "Back to the summary".
EDIT_STEP_STATES = DRAFT_STATES - {State.CONFIRM, State.EDIT, State.VOICE_CHOICE}
