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
    # checking a complaint by number and receipt code
    CHECK_NUMBER = "check.number"
    CHECK_CODE = "check.code"
    # questions and answers
    FAQ_TOPICS = "faq.topics"
    FAQ_LIST = "faq.list"  # one topic's questions, a page at a time
    FAQ_RESULTS = "faq.results"  # entries found for a typed question
    FAQ_ANSWER = "faq.answer"
    FAQ_ASK = "faq.ask"  # nothing fits: send the question to the operators?


# States in which a photo is added to the complaint being written.
PHOTO_STATES = frozenset({State.DESCRIPTION, State.PLACE, State.PHOTOS})
