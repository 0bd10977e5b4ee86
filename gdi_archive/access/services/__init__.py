"""The access request life cycle: the one write path for pages, the admin, the API and tasks.

draft -> submitted -> approved | rejected | returned (-> submitted again); withdrawn before a
decision. Each function checks who is asking and what the state allows, changes the rows,
writes the timeline and the audit log in one transaction, and queues emails on commit.

Callers use `services.<function>`; the functions live by who acts: `applications` (the
applicant), `decisions` (the committee), `entitlements` (after a decision), `members`
(co-applicants) and `blocks` (a DAC shutting a person out).
"""

from .applications import (
    check_documents,
    copy_request,
    create_request,
    delete_draft,
    missing_documents,
    snapshot,
    submit_request,
    update_request,
    withdraw_request,
)
from .blocks import block_person, blocks_for, check_blocker, lift_block
from .decisions import (
    add_comment,
    add_remark,
    approve_request,
    ask_review,
    check_end,
    end_limit,
    reject_request,
    return_request,
)
from .entitlements import entitlements_to_remind, expire_entitlements, mark_reminded, revoke_entitlement
from .members import accept_invitation, invitation_for, invite_member, remove_member

__all__ = [
    "accept_invitation",
    "add_comment",
    "add_remark",
    "approve_request",
    "ask_review",
    "block_person",
    "blocks_for",
    "check_blocker",
    "check_documents",
    "check_end",
    "copy_request",
    "create_request",
    "delete_draft",
    "end_limit",
    "entitlements_to_remind",
    "expire_entitlements",
    "invitation_for",
    "invite_member",
    "lift_block",
    "mark_reminded",
    "missing_documents",
    "reject_request",
    "remove_member",
    "return_request",
    "revoke_entitlement",
    "snapshot",
    "submit_request",
    "update_request",
    "withdraw_request",
]
