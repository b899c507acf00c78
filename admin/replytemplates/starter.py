"""The starter set of reply templates (``flask --app admin replies seed``).

Five replies for the situations reviewers meet every week, each written for
a frightened reader of each reporter language rather than translated word
for word, with its meaning for reviewers in each console language. They
follow the translation glossary (docs/glossary-translations.md): "outside
Canada" (加拿大境外, never 海外, which a Chinese reader takes as outside
China and so reverses the advice), no word that makes China "home", the
receipt number as 回執號碼 / 回执号码 / « numéro de reçu », the emergency
and national-security numbers exactly as the intake's safety page gives
them. Listed for native review in docs/translations.md ("Reply templates").

``[…]`` marks what the reviewer must write in before the reply can be sent
(:data:`admin.replytemplates.service.PLACEHOLDER`).
"""

from __future__ import annotations

from dataclasses import dataclass


def _fr(text: str) -> str:
    """French typography (OQLF): the apostrophe ’, U+00A0 before ``:`` and
    inside « », U+202F before ``;`` ``?`` ``!``. Written here with plain
    spaces, so the source stays readable."""
    return (
        text.replace("'", "\u2019")
        .replace(" :", "\u00a0:")
        .replace(" ;", "\u202f;")
        .replace(" ?", "\u202f?")
        .replace(" !", "\u202f!")
        .replace("« ", "«\u00a0")
        .replace(" »", "\u00a0»")
    )


@dataclass(frozen=True)
class StarterTemplate:
    """One template of the starter set: ``texts`` by reporter language
    (``en``, ``fr``, ``zh_Hant``, ``zh_Hans``), ``titles`` and
    ``summaries`` by console language (``en``, ``fr``, ``zh_Hant``)."""

    key: str
    position: int
    titles: dict[str, str]
    summaries: dict[str, str]
    texts: dict[str, str]


STARTER: tuple[StarterTemplate, ...] = (
    StarterTemplate(
        key="received",
        position=10,
        titles={
            "en": "Received and being reviewed",
            "fr": _fr("Reçu et en cours d'examen"),
            "zh_Hant": "已收到，正在審閱",
        },
        summaries={
            "en": "Thanks the reporter; a member of the team is reading the report; we will write again "
            "on this page; nothing else to do for now; call 911 if in danger now.",
            "fr": _fr(
                "Remercie la personne ; un membre de l'équipe lit le signalement ; nous écrirons de nouveau "
                "sur cette page ; rien d'autre à faire pour l'instant ; le 911 en cas de danger immédiat."
            ),
            "zh_Hant": "感謝舉報人；團隊成員正在閱讀報告；之後會在這個頁面再回覆；目前不需要做任何事；"
            "如果現在有危險，請撥打 911。",
        },
        texts={
            "en": "Thank you for your report. We have received it, and a member of our team is reading it "
            "carefully. We will answer you here: come back to this page with your receipt number to read "
            "our reply. You do not need to do anything else for now.\n\n"
            "If you are in danger now, call 911.",
            "fr": _fr(
                "Merci pour votre signalement. Nous l'avons bien reçu, et une personne de notre équipe "
                "le lit attentivement. Nous vous répondrons ici : revenez sur cette page avec votre "
                "numéro de reçu pour lire notre réponse. Vous n'avez rien d'autre à faire pour l'instant.\n\n"
                "En cas de danger immédiat, composez le 911."
            ),
            "zh_Hant": "感謝您提交報告。我們已經收到，團隊成員正在仔細閱讀。我們會在這裡回覆您："
            "之後請輸入您的回執號碼，回到這裡查看我們的回覆。目前您不需要再做任何事。\n\n"
            "如果您現在有危險，請撥打 911。",
            "zh_Hans": "感谢您提交报告。我们已经收到，团队成员正在仔细阅读。我们会在这里回复您："
            "之后请输入您的回执号码，回到这里查看我们的回复。目前您不需要再做任何事。\n\n"
            "如果您现在有危险，请拨打 911。",
        },
    ),
    StarterTemplate(
        key="more-information",
        position=20,
        titles={
            "en": "We need more information about …",
            "fr": _fr("Nous avons besoin de précisions sur…"),
            "zh_Hant": "需要更多資料：關於……",
        },
        summaries={
            "en": "Asks for more about what you write in place of […]; only what the reporter feels safe "
            "sharing; they add it on this page with the receipt number, encrypted like the report; no "
            "family names unless they choose.",
            "fr": _fr(
                "Demande des précisions sur ce que vous écrivez à la place de […] ; seulement ce que la "
                "personne est à l'aise de partager ; elle l'ajoute sur cette page avec son numéro de reçu, "
                "chiffré comme le signalement ; pas de noms de proches, sauf si elle le choisit."
            ),
            "zh_Hant": "請舉報人補充您在 […] 處寫明的情況；只需分享他們覺得安全的內容；"
            "可在這個頁面輸入回執號碼後補充，並會和報告一樣加密；除非本人願意，不要寫出家人姓名。",
        },
        texts={
            "en": "Thank you for your report. To understand what happened and how we can help, we need to "
            "know more about: […]\n\n"
            "Please share only what you feel safe sharing. You can add it on this page with your receipt "
            "number: it is encrypted in the same way as your report. Do not write the names of members of "
            "your family unless you choose to.",
            "fr": _fr(
                "Merci pour votre signalement. Pour bien comprendre ce qui s'est passé et voir comment vous "
                "aider, nous aurions besoin d'en savoir plus sur : […]\n\n"
                "Ne partagez que ce que vous êtes à l'aise de partager. Vous pouvez l'ajouter sur cette page "
                "avec votre numéro de reçu : ce sera chiffré de la même façon que votre signalement. "
                "N'écrivez pas le nom de membres de votre famille, sauf si vous le choisissez."
            ),
            "zh_Hant": "感謝您提交報告。為了了解發生了什麼事，以及我們可以怎樣幫助您，我們需要進一步了解以下"
            "情況：[…]\n\n"
            "請只分享您覺得安全、願意分享的內容。您可以在這個頁面輸入回執號碼後補充，補充的內容會和您的報告"
            "一樣加密。除非您自己願意，否則請不要寫出家人的姓名。",
            "zh_Hans": "感谢您提交报告。为了了解发生了什么事，以及我们可以怎样帮助您，我们需要进一步了解以下"
            "情况：[…]\n\n"
            "请只分享您觉得安全、愿意分享的内容。您可以在这个页面输入回执号码后补充，补充的内容会和您的报告"
            "一样加密。除非您自己愿意，否则请不要写出家人的姓名。",
        },
    ),
    StarterTemplate(
        key="referred",
        position=30,
        titles={
            "en": "Referred with your consent",
            "fr": _fr("Transmis avec votre consentement"),
            "zh_Hant": "經同意後已轉介",
        },
        summaries={
            "en": "Says that, as the reporter agreed, we passed the report to the organization you name in "
            "place of […]; they may contact the reporter in the way the reporter said is safe; only what "
            "was agreed was shared; the reporter can say no here. Use only when the report's consents "
            "allow it.",
            "fr": _fr(
                "Dit que, comme la personne l'a accepté, nous avons transmis le signalement à l'organisme "
                "que vous nommez à la place de […] ; il pourrait la contacter de la façon qu'elle a dite "
                "sûre ; seul ce qui a été accepté a été transmis ; elle peut refuser ici. À n'utiliser que "
                "si les consentements du signalement le permettent."
            ),
            "zh_Hant": "說明經舉報人同意，我們已把報告轉交給您在 […] 處寫明的機構；"
            "對方可能會用舉報人指定的安全方式聯絡；只分享了舉報人同意分享的內容；舉報人可以在這裡拒絕。只在報告的同意選項允許時使用。",
        },
        texts={
            "en": "With your consent, we have passed your report to […], who can help with this. They may "
            "contact you in the way you told us is safe for you. We shared only what you agreed to "
            "share.\n\n"
            "If you change your mind, or do not want them to contact you, tell us here.",
            "fr": _fr(
                "Avec votre consentement, nous avons transmis votre signalement à […], qui peut vous aider "
                "à ce sujet. Cet organisme pourrait communiquer avec vous de la façon que vous nous avez "
                "indiquée comme sûre. Nous n'avons transmis que ce que vous avez accepté de partager.\n\n"
                "Si vous changez d'avis, ou si vous ne voulez pas qu'on communique avec vous, dites-le-nous "
                "ici."
            ),
            "zh_Hant": "經您同意，我們已把您的報告轉交給[…]，他們可以在這方面幫助您。他們可能會用您告訴我們的"
            "安全方式與您聯絡。我們只分享了您同意分享的內容。\n\n"
            "如果您改變主意，或不希望他們聯絡您，請在這裡告訴我們。",
            "zh_Hans": "经您同意，我们已把您的报告转交给[…]，他们可以在这方面帮助您。他们可能会用您告诉我们的"
            "安全方式与您联系。我们只分享了您同意分享的内容。\n\n"
            "如果您改变主意，或不希望他们联系您，请在这里告诉我们。",
        },
    ),
    StarterTemplate(
        key="safety",
        position=40,
        titles={
            "en": "Safety advice",
            "fr": _fr("Conseils de sécurité"),
            "zh_Hant": "安全建議",
        },
        summaries={
            "en": "Call 911 if in danger now; the RCMP National Security Information Network "
            "(1-800-420-5805) and CSIS (1-800-267-7685) for threats from someone acting for a government "
            "outside Canada; keep the evidence, do not delete it; do not answer or meet those who "
            "threaten; talk only on a trusted device and app (not WeChat); keep the receipt number private.",
            "fr": _fr(
                "Le 911 en cas de danger immédiat ; le Réseau info-sécurité nationale de la GRC "
                "(1-800-420-5805) et le SCRS (1-800-267-7685) reçoivent les signalements de menaces pour un "
                "gouvernement hors du Canada ; garder les preuves, ne pas les supprimer ; ne pas répondre "
                "aux personnes qui menacent ni les rencontrer ; parler seulement sur un appareil et une "
                "application de confiance (pas WeChat) ; garder le numéro de reçu pour soi."
            ),
            "zh_Hant": "如果現在有危險，請撥打 911；代表加拿大境外政府的威脅"
            "可向加拿大皇家騎警（RCMP）國家安全資訊網絡 1-800-420-5805 "
            "或加拿大安全情報局（CSIS）1-800-267-7685 舉報；保留證據，不要刪除；"
            "不要回應或會見威脅者；只用信任的裝置和應用程式（不要用微信）；回執號碼不要告訴別人。",
        },
        texts={
            "en": "Your safety comes first.\n\n"
            "- If you are in danger now, call 911.\n"
            "- If someone acting for a government outside Canada threatens or harasses you, you can report "
            "it to the RCMP National Security Information Network at 1-800-420-5805, or to the Canadian "
            "Security Intelligence Service (CSIS) at 1-800-267-7685.\n"
            "- Keep the messages, call logs and photos of what happened. Do not delete them: make copies "
            "and keep them in a safe place.\n"
            "- Do not answer people who threaten you, and do not agree to meet them. Tell someone you "
            "trust what is happening.\n"
            "- Talk about your report only on a device and an app you trust. Other people can read calls "
            "and messages made through apps such as WeChat.\n"
            "- Keep your receipt number to yourself: anyone who has it can read our replies.",
            "fr": _fr(
                "Votre sécurité passe avant tout.\n\n"
                "- En cas de danger immédiat, composez le 911.\n"
                "- Si une personne qui agit pour un gouvernement hors du Canada vous menace ou vous "
                "harcèle, vous pouvez le signaler au Réseau info-sécurité nationale de la GRC, au "
                "1-800-420-5805, ou au Service canadien du renseignement de sécurité (SCRS), au "
                "1-800-267-7685.\n"
                "- Gardez les messages, la liste des appels et les photos de ce qui s'est passé. Ne les "
                "supprimez pas : faites-en des copies et gardez-les en lieu sûr.\n"
                "- Ne répondez pas aux personnes qui vous menacent et n'acceptez pas de les rencontrer. "
                "Dites à une personne de confiance ce qui se passe.\n"
                "- Parlez de votre signalement seulement sur un appareil et une application auxquels vous "
                "faites confiance. D'autres personnes peuvent lire les appels et les messages passés par "
                "des applications comme WeChat.\n"
                "- Gardez votre numéro de reçu pour vous : toute personne qui l'a peut lire nos réponses."
            ),
            "zh_Hant": "您的安全最重要。\n\n"
            "- 如果您現在有危險，請撥打 911。\n"
            "- 如果有人代表加拿大境外的政府威脅或騷擾您，您可以致電加拿大皇家騎警（RCMP）國家安全資訊網絡 "
            "1-800-420-5805，或加拿大安全情報局（CSIS）1-800-267-7685 舉報。\n"
            "- 請保留相關的訊息、通話紀錄和照片，不要刪除。請另存副本，放在安全的地方。\n"
            "- 不要回應威脅您的人，也不要答應和他們見面。請把發生的事告訴一位您信任的人。\n"
            "- 只在您信任的裝置和應用程式上談論您的報告。透過微信等應用程式進行的通話和傳送的訊息，"
            "可能會被別人看到。\n"
            "- 請保管好您的回執號碼，不要告訴別人：任何人有了這個號碼，就能看到我們的回覆。",
            "zh_Hans": "您的安全最重要。\n\n"
            "- 如果您现在有危险，请拨打 911。\n"
            "- 如果有人代表加拿大境外的政府威胁或骚扰您，您可以致电加拿大皇家骑警（RCMP）国家安全信息网络 "
            "1-800-420-5805，或加拿大安全情报局（CSIS）1-800-267-7685 举报。\n"
            "- 请保留相关的消息、通话记录和照片，不要删除。请另存副本，放在安全的地方。\n"
            "- 不要回应威胁您的人，也不要答应和他们见面。请把发生的事告诉一位您信任的人。\n"
            "- 只在您信任的设备和应用程序上谈论您的报告。通过微信等应用程序进行的通话和发送的消息，"
            "可能会被别人看到。\n"
            "- 请保管好您的回执号码，不要告诉别人：任何人有了这个号码，就能看到我们的回复。",
        },
    ),
    StarterTemplate(
        key="cannot-help",
        position=50,
        titles={
            "en": "We cannot help with this, but here is who can",
            "fr": _fr("Nous ne pouvons pas aider, mais voici qui le peut"),
            "zh_Hant": "我們無法協助，但這個機構可以",
        },
        summaries={
            "en": "Thanks the reporter; the coalition cannot help with this, but the organization you name "
            "in place of […] can; the report was passed to nobody; the reporter can write again here if "
            "something linked to a government outside Canada happens; 911 if in danger now.",
            "fr": _fr(
                "Remercie la personne ; la coalition ne peut pas aider pour cela, mais l'organisme que vous "
                "nommez à la place de […] le peut ; le signalement n'a été transmis à personne ; elle peut "
                "écrire de nouveau ici si quelque chose lié à un gouvernement hors du Canada se produit ; "
                "le 911 en cas de danger immédiat."
            ),
            "zh_Hant": "感謝舉報人；聯盟無法協助這件事，但您在 […] 處寫明的機構可以；報告沒有轉交給任何人；"
            "如再發生與加拿大境外政府有關的事，可以在這裡再告訴我們；如果現在有危險，請撥打 911。",
        },
        texts={
            "en": "Thank you for trusting us with your report. What you describe is not something our "
            "coalition can help with, but this organization can: […]\n\n"
            "We have not passed your report, or anything in it, to anyone. If something else happens that "
            "is linked to a government outside Canada, you can tell us here at any time.\n\n"
            "If you are in danger now, call 911.",
            "fr": _fr(
                "Merci de nous avoir confié votre signalement. Notre coalition ne peut pas vous aider pour "
                "ce que vous décrivez, mais cet organisme le peut : […]\n\n"
                "Nous n'avons transmis votre signalement, ni rien de ce qu'il contient, à personne. Si "
                "autre chose se produit en lien avec un gouvernement hors du Canada, vous pouvez nous le "
                "dire ici en tout temps.\n\n"
                "En cas de danger immédiat, composez le 911."
            ),
            "zh_Hant": "感謝您信任我們，向我們提交報告。您所描述的情況不是我們聯盟能夠協助的，但以下機構可以"
            "幫助您：[…]\n\n"
            "我們沒有把您的報告或其中任何內容轉交給任何人。如果以後再發生與加拿大境外政府有關的事，您可以"
            "隨時在這裡告訴我們。\n\n"
            "如果您現在有危險，請撥打 911。",
            "zh_Hans": "感谢您信任我们，向我们提交报告。您所描述的情况不是我们联盟能够帮助的，但以下机构可以"
            "帮助您：[…]\n\n"
            "我们没有把您的报告或其中任何内容转交给任何人。如果以后再发生与加拿大境外政府有关的事，您可以"
            "随时在这里告诉我们。\n\n"
            "如果您现在有危险，请拨打 911。",
        },
    ),
)
