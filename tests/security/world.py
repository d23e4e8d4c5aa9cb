"""A small world of two teams for the security suite, every object marked with its team.

Team A ("Alpha") is the team whose objects the tenant matrix addresses: an owner, an admin, a
member, and a "dual" user who is also in team B and works there. Team B ("Bravo") belongs to
the outsider. Every name, label, reference, address and URL a team's objects carry holds
`mark-a-...` or `mark-b-...`, so one case-insensitive search of a body shows whether anything
of a team reached someone outside it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Invitation, Membership, ProviderKey, Role, Team
from batches.models import Batch
from integrations.models import ApiToken, WebhookDelivery, WebhookEndpoint
from notifications.models import Notification
from videos.models import Attachment, AttachmentKind, Job, Share, VideoTemplate

MARK_A = "mark-a-"
MARK_B = "mark-b-"
# Team A's name is shown to the dual user in the team switcher of every page: the one mark of
# team A such a user legitimately sees while working in team B.
MARK_A_TEAM = "mark-a-team"

ROLES = ("anonymous", "outsider", "member", "admin", "owner", "dual")


def png_bytes(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Side:
    """One team and the things of it that URLs can name."""

    team: Team
    owner: User
    job: Job
    input_file: Attachment
    key_shared: ProviderKey
    key_private: ProviderKey
    owner_token: ApiToken
    invitation: Invitation
    invitation_token: str
    delivery: WebhookDelivery | None
    admin: User | None = None
    member: User | None = None
    member_membership: Membership | None = None
    # A live share link of the finished job, and its token (the public page's URL).
    share: Share | None = None
    share_token: str = ""
    # The owner's "video ready" notification (made by the job's success above).
    notification: Notification | None = None
    # Where the job's webhooks go (made with its first delivery).
    endpoint: WebhookEndpoint | None = None
    # A batch of one (queued) job.
    batch: Batch | None = None


@dataclass
class World:
    a: Side
    b: Side
    dual: User
    staff: User
    template: VideoTemplate
    # Raw API tokens by role (the team a role acts in: A for owner/admin/member, B otherwise).
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, role: str) -> User | None:
        return {
            "anonymous": None,
            "outsider": self.b.owner,
            "member": self.a.member,
            "admin": self.a.admin,
            "owner": self.a.owner,
            "dual": self.dual,
            "staff": self.staff,
        }[role]

    def acting_team(self, role: str) -> Team | None:
        if role in ("member", "admin", "owner"):
            return self.a.team
        if role in ("outsider", "dual"):
            return self.b.team
        return None


def _side(
    *,
    mark: str,
    name: str,
    template: VideoTemplate,
    upstream,
    capture,
    members: dict[str, Role],
) -> Side:
    from accounts.audit import record as audit_record
    from accounts.models import AuditAction
    from accounts.services import invitation_create, team_create
    from batches.services import ItemSpec, MediaSource, batch_create
    from integrations.services import token_create
    from tests.apiclient import drive_to_success
    from videos.services import MediaInput, job_create, key_store, share_create

    owner = User.objects.create_user(f"{mark}owner", f"{mark}owner@example.com", "pw-owner-123")
    team = team_create(name=f"{name} {mark}team", owner=owner)
    users: dict[str, User] = {}
    memberships: dict[str, Membership] = {}
    for role_name, role in members.items():
        user = User.objects.create_user(
            f"{mark}{role_name}", f"{mark}{role_name}@example.com", "pw-user-123"
        )
        users[role_name] = user
        memberships[role_name] = Membership.objects.create(team=team, user=user, role=role)
    with capture(execute=True):
        key_shared = key_store(
            user=owner, label=f"{mark}key-shared", secret=f"sk-{mark}shared-1234", share_with=team
        )
        key_private = key_store(
            user=owner, label=f"{mark}key-private", secret=f"sk-{mark}private-5678"
        )
    with capture(execute=True):
        job = job_create(
            team=team,
            user=owner,
            template=template,
            text_inputs=[],
            media_inputs=[MediaInput(upload=SimpleUploadedFile("me.png", png_bytes()))],
            key_id=key_shared.pk,
            reference=f"{mark}job-ref",
            # The client's webhook: the job's deliveries and their log carry this mark too.
            callback_url=f"https://{mark}hook.example/hook",
        )
    upstream.answers.clear()  # the fake repeats its last answer: each team gets its own task
    with capture(execute=True):
        drive_to_success(job, upstream, task_id=f"{mark}task")
    job.refresh_from_db()
    share, share_token = share_create(job=job, by=owner, expires_in_s=None)
    with capture(execute=True):
        batch = batch_create(
            team=team,
            user=owner,
            template=template,
            items=[
                ItemSpec(
                    texts=[],
                    media=[MediaSource(upload=SimpleUploadedFile("b.png", png_bytes()))],
                    reference=f"{mark}batch-ref",
                )
            ],
            key_id=key_shared.pk,
            name=f"{mark}batch",
        )
    owner_token, _raw = token_create(user=owner, team=team, name=f"{mark}token")
    # The audit log: the services above wrote the team's rows (keys, token, invitation...);
    # one more names the mark outright, for the matrix's control.
    audit_record(
        AuditAction.SIGNIN_SUCCEEDED,
        actor=owner,
        team=team,
        target=f'account "{mark}audit"',
        ip="192.0.2.10",
    )
    with capture(execute=True):
        invitation, link = invitation_create(
            team=team, by=owner, email=f"{mark}invitee@example.com", base_url="http://testserver/"
        )
    return Side(
        team=team,
        owner=owner,
        job=job,
        input_file=job.attachments.get(kind=AttachmentKind.INPUT),
        key_shared=key_shared,
        key_private=key_private,
        owner_token=owner_token,
        invitation=invitation,
        invitation_token=link.rstrip("/").rsplit("/", 1)[-1],
        delivery=WebhookDelivery.objects.filter(job=job).first(),
        admin=users.get("admin"),
        member=users.get("member"),
        member_membership=memberships.get("member"),
        share=share,
        share_token=share_token,
        notification=Notification.objects.filter(user=owner).order_by("id").first(),
        endpoint=WebhookEndpoint.objects.filter(team=team).first(),
        batch=batch,
    )


def build_world(*, template: VideoTemplate, upstream, capture) -> World:
    """Both teams, a finished job each (result, input image, events, ledger, deliveries)."""
    from integrations.services import token_create, webhook_secret_get

    # A stored cover, so the template asset URL answers with a file rather than "no asset".
    template.cover.save("cover.png", ContentFile(png_bytes(400, 400)), save=True)
    a = _side(
        mark=MARK_A,
        name="Alpha",
        template=template,
        upstream=upstream,
        capture=capture,
        members={"admin": Role.ADMIN, "member": Role.MEMBER},
    )
    b = _side(
        mark=MARK_B, name="Bravo", template=template, upstream=upstream, capture=capture, members={}
    )
    dual = User.objects.create_user("dual-user", "dual@example.com", "pw-dual-123")
    Membership.objects.create(team=a.team, user=dual, role=Role.MEMBER)
    Membership.objects.create(team=b.team, user=dual, role=Role.MEMBER)
    staff = User.objects.create_superuser("staff-user", "staff@example.com", "pw-staff-123")
    for side in (a, b):
        webhook_secret_get(team=side.team)
    tokens = {
        "owner": token_create(user=a.owner, team=a.team, name="owner's token")[1],
        "admin": token_create(user=a.admin, team=a.team, name="admin's token")[1],
        "member": token_create(user=a.member, team=a.team, name="member's token")[1],
        "outsider": token_create(user=b.owner, team=b.team, name="outsider's token")[1],
        "dual": token_create(user=dual, team=b.team, name="dual's token")[1],
        "staff": token_create(user=staff, team=staff.personal_team, name="staff's token")[1],
    }
    return World(a=a, b=b, dual=dual, staff=staff, template=template, tokens=tokens)
