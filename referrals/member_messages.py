"""What a member reads about their referral (status emails and page), in their language.

One catalog per language, as plain dicts of `str.format` templates: English, and Spanish (the
most spoken language after English among the network's members). A member whose preferred
language has a catalog reads it; everyone else reads English. Add a language by adding a dict
with the same keys (a test checks the keys match). Plain words, no jargon: "they will call
you", not "accepted".
"""

from datetime import datetime

from directory import languages
from referrals import deadlines

EN = {
    "lang_name": "English",
    "page_title": "Your referral",
    "intro": "This page shows where your coordinator referred you and what has happened since.",
    "now_title": "Where things are now",
    "steps_title": "What has happened",
    "place_title": "Where you were referred",
    "phone": "Phone",
    "address": "Address",
    "no_contact": "Your coordinator can give you their phone number and address.",
    "coordinator_title": "Questions?",
    "coordinator": "Contact your coordinator: {coordinator}.",
    "private": "This page is private: don't share its link. It works until {until}.",
    # The headline: where the newest referral of the chain stands.
    "now_sent": "We are waiting for {agency} to answer.",
    "now_accepted": "{agency} accepted your referral. They will call you.",
    "now_declined": "{agency} cannot take your referral. Your coordinator is finding another "
    "place.",
    "now_forwarded": "{agency} passed your referral to another place.",
    "now_completed": "{agency} finished working on your referral.",
    "now_cancelled": "This referral was stopped. Your coordinator will talk with you about what "
    "comes next.",
    # One line per step.
    "step_sent": "Your coordinator sent your referral to {service} ({agency}).",
    "step_accepted": "{agency} accepted your referral. They will call you.",
    "step_declined": "{agency} cannot take your referral. Your coordinator is finding another "
    "place.",
    "step_forwarded": "{agency} passed your referral to {service} ({new_agency}), who may be "
    "able to help.",
    "step_resent": "Your coordinator sent your referral to {service} ({new_agency}) instead.",
    "step_escalated": "{agency} did not answer in time, so we sent your referral to {service} "
    "({new_agency}).",
    "step_completed": "{agency} finished working on your referral.",
    "step_cancelled": "The referral to {service} was stopped.",
    # Emails and text messages.
    "subject": "Your referral: {service}",
    "greeting": "Hello,",
    "new_link": "Here is a new link to your referral's page.",
    "email_link": "See where you were referred, with their phone number and address, on your "
    "private page:",
    "email_private": "This link is just for you and works until {until}. Please don't share it.",
    "sign_off": "— Wraparound, for {organization}",
    "sms": "Wraparound: {step} Details: {url}",
    # A link that no longer works.
    "gone_title": "This link no longer works",
    "gone_expired": "This link has expired.",
    "gone_revoked": "A newer link replaced this one. Use the link in the latest message we sent "
    "you.",
    "gone_ask": "If you need a new link, ask your coordinator: {coordinator}.",
    "months": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "date": "{month} {day}, {year}",
}

ES = {
    "lang_name": "Español",
    "page_title": "Su referido",
    "intro": "Esta página muestra a dónde le refirió su coordinador(a) y qué ha pasado desde "
    "entonces.",
    "now_title": "Cómo va ahora",
    "steps_title": "Qué ha pasado",
    "place_title": "A dónde le refirieron",
    "phone": "Teléfono",
    "address": "Dirección",
    "no_contact": "Su coordinador(a) le puede dar su número de teléfono y su dirección.",
    "coordinator_title": "¿Preguntas?",
    "coordinator": "Comuníquese con su coordinador(a): {coordinator}.",
    "private": "Esta página es privada: no comparta el enlace. Funciona hasta el {until}.",
    "now_sent": "Estamos esperando la respuesta de {agency}.",
    "now_accepted": "{agency} aceptó su referido. Le van a llamar.",
    "now_declined": "{agency} no puede aceptar su referido. Su coordinador(a) está buscando "
    "otro lugar.",
    "now_forwarded": "{agency} pasó su referido a otro lugar.",
    "now_completed": "{agency} terminó de atender su referido.",
    "now_cancelled": "Este referido se detuvo. Su coordinador(a) hablará con usted sobre los "
    "próximos pasos.",
    "step_sent": "Su coordinador(a) envió su referido a {service} ({agency}).",
    "step_accepted": "{agency} aceptó su referido. Le van a llamar.",
    "step_declined": "{agency} no puede aceptar su referido. Su coordinador(a) está buscando "
    "otro lugar.",
    "step_forwarded": "{agency} pasó su referido a {service} ({new_agency}), que tal vez le "
    "pueda ayudar.",
    "step_resent": "Su coordinador(a) envió su referido a {service} ({new_agency}) en su lugar.",
    "step_escalated": "{agency} no respondió a tiempo, así que enviamos su referido a {service} "
    "({new_agency}).",
    "step_completed": "{agency} terminó de atender su referido.",
    "step_cancelled": "El referido a {service} se detuvo.",
    "subject": "Su referido: {service}",
    "greeting": "Hola:",
    "new_link": "Aquí tiene un enlace nuevo a la página de su referido.",
    "email_link": "Vea a dónde le refirieron, con su teléfono y su dirección, en su página "
    "privada:",
    "email_private": "Este enlace es solo para usted y funciona hasta el {until}. Por favor, "
    "no lo comparta.",
    "sign_off": "— Wraparound, de parte de {organization}",
    "sms": "Wraparound: {step} Detalles: {url}",
    "gone_title": "Este enlace ya no funciona",
    "gone_expired": "Este enlace venció.",
    "gone_revoked": "Un enlace más nuevo reemplazó a este. Use el enlace del último mensaje que "
    "le enviamos.",
    "gone_ask": "Si necesita un enlace nuevo, pídaselo a su coordinador(a): {coordinator}.",
    "months": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
    "date": "{day} de {month} de {year}",
}

CATALOGS = {"en": EN, "es": ES}
DEFAULT = "en"


def language_of(preferred: str | None) -> str:
    """The catalog to use for a member's preferred language (written any way the directory's
    language table knows: "Spanish", "Español", "es-MX"); English when there is none."""
    if not preferred or not preferred.strip():
        return DEFAULT
    code, _ = languages.canonical(preferred)
    return code if code in CATALOGS else DEFAULT


class Words:
    """The catalog of one language, as a callable: `words("step_sent", service=…)`."""

    def __init__(self, lang: str):
        self.lang = lang if lang in CATALOGS else DEFAULT
        self.catalog = CATALOGS[self.lang]

    def __call__(self, key: str, **values) -> str:
        return self.catalog[key].format(**values)

    def date(self, moment: datetime) -> str:
        """A day as people write it in this language, in the network's time zone."""
        local = moment.astimezone(deadlines.local_zone())
        month = self.catalog["months"][local.month - 1]
        return self.catalog["date"].format(month=month, day=local.day, year=local.year)
