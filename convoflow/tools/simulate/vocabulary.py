"""The simulated contact centre's words and weights: names, texts, attribute values, hours.

Strings that a CSV writer or a spreadsheet has to treat with care are here on
purpose: commas, quotes, line breaks, non-ASCII, emoji, and cells that start
with ``=``, ``+``, ``-`` or ``@``.
"""
from __future__ import annotations

MEDIA = ["whatsapp", "twitter", "facebook", "sms", "messenger", "instagram"]
MEDIUM_LABEL = {
    "whatsapp": "WhatsApp",
    "twitter": "Twitter",
    "facebook": "Facebook",
    "sms": "SMS",
    "messenger": "Messenger",
    "instagram": "Instagram",
}
# index 0 has a comma, index 1 is non-ASCII, index 3 has no display name
CHANNEL_DISPLAY_NAMES = [
    "Acme Support, EU",
    "Acme Kundendienst – Zürich ☎",
    "Acme Care",
    None,
    "Acme 日本 サポート",
    'Acme "VIP" line',
]
TEAM_NAMES = [
    "Billing",
    "Tech Support",
    "Sales & Retention, NL",
    "Équipe Paris",
    "Escalations",
    "Social Care",
]
# UTC hour (as minutes) when a zone's shift starts: Europe, US East, US West, APAC
ZONE_START_MIN = [6 * 60 + 30, 13 * 60, 16 * 60, 23 * 60]
FIRST_NAMES = ["Emma", "Liam", "Sofía", "Jürgen", "Zoë", "Noah", "Renée", "Łukasz",
          "Aoife", "Mateo", "Søren", "Yara", "Olivia", "Ömer", "Chloé", "Sven"]
FIRST_NAMES_ASCII = ["emma", "liam", "sofia", "juergen", "zoe", "noah", "renee", "lukasz",
                "aoife", "mateo", "soeren", "yara", "olivia", "oemer", "chloe", "sven"]
LAST_NAMES = ["de Vries", "O'Brien", "García", "Müller", "Jansen", "Smith", "Dubois",
         "Nowak", "Kelly", "Rossi", "Hansen", "Haddad", "Brown", "Yılmaz", "Martin", "Berg"]
LAST_NAMES_ASCII = ["devries", "obrien", "garcia", "mueller", "jansen", "smith", "dubois",
               "nowak", "kelly", "rossi", "hansen", "haddad", "brown", "yilmaz", "martin", "berg"]
VIRTUAL_AGENT_NAMES = ["Ava", "Max (bot)", "Acme Assistent", "Chloé-bot"]
TOPIC_NAMES = ["Billing question", "Delivery, late", 'Refund "urgent"', "Product info",
           "Account – login", "Complaint", "Cancellation", "Feedback 💬"]
TAG_NAMES = ["vip", "follow-up", "angry 😠", "spam", "bug, confirmed", "needs \"review\""]
CONTACT_NAMES = ["Emma de Vries", "Liam O'Brien", "José García", "Zoë Müller",
                  "François Lefèvre", "Søren Kierkegaard", "Łucja Nowak", "Ayşe Yılmaz",
                  "张伟", "Олег Петров", "Nguyễn Văn An", "Mia Johnson", "Noah Smith",
                  "Ömer Çelik", "Chloé Dubois", "Jürgen Groß", "Anna, from Sales", "علي حسن"]
HANDLE_WORDS = ["sunny", "mike", "travel", "coffee", "gamer", "jules", "nina", "bart",
                 "kiki", "dev", "moon", "piet"]
LANGUAGES = ["en"] * 12 + ["nl"] * 3 + ["fr"] * 2 + ["de"] * 2 + [None]
INBOUND_TEXTS = {
    "en": ["Hi, my order hasn't arrived yet", "Can I change my delivery address?",
           "I was charged twice!!", "Where is my refund? Order #12345",
           "Hello, I need help with my account, please",
           'The app says "error 500" when I log in', "Thanks, that worked 👍",
           "+1 for the previous question", "-- sent from my phone",
           "=SUM(A1:A2) is what I typed in the form",
           "Line one\nline two, with a comma", "@acme why is your site down?",
           "ok", "Any update? It's been 2 days…"],
    "nl": ["Hallo, mijn pakket is nog niet bezorgd", "Kan ik mijn bestelling annuleren?",
           "Ik heb een vraag over mijn factuur, nummer 2024-0042", "Bedankt voor de hulp! 😊",
           "Waarom is het \"gratis\" proefabonnement niet gratis?"],
    "fr": ["Bonjour, ma commande n'est pas arrivée", "Où est mon remboursement ?",
           "Merci beaucoup, c'est réglé", "J'ai un problème avec l'appli « Acme »"],
    "de": ["Guten Tag, meine Bestellung ist noch nicht da", "Ich möchte mein Abo kündigen",
           "Danke für die schnelle Hilfe!", "Größe passt nicht – Umtausch möglich?"],
}
REPLY_TEXTS = {
    "en": ["Hi, thanks for reaching out! Could you share your order number?",
           "I'm sorry about that. I've issued a refund of €12,50.",
           'Please try "Forgot password" on the login page.',
           "=== Update ===\nYour parcel is on its way.",
           "- Step 1: open the app\n- Step 2: tap Settings",
           "+ We've added a voucher to your account",
           "Thanks for waiting 🙏", "@you: fixed, can you check?"],
    "nl": ["Hoi! Wat vervelend. Mag ik je ordernummer?", "Ik heb het voor je aangepast, fijne dag!",
           "Je pakket wordt morgen bezorgd, tussen 9:00 en 13:00."],
    "fr": ["Bonjour ! Pouvez-vous me donner votre numéro de commande ?",
           "C'est fait, bonne journée « et merci » !"],
    "de": ["Hallo! Könnten Sie mir Ihre Bestellnummer schicken?",
           "Erledigt – viele Grüße, Ihr Acme-Team"],
}
VIRTUAL_AGENT_TEXTS = ["Hi! I'm Acme's virtual assistant. How can I help?",
             "Please choose: 1) Orders, 2) Billing, 3) Something else",
             "I found this article: https://help.acme.example/a/42",
             "I'm connecting you with a colleague…", "Glad I could help! Anything else?"]
AUTOMATION_TEXTS = ["Thanks for your message! We usually reply within 1 hour.",
               "We're closed right now; we'll get back to you tomorrow, 08:00–20:00."]
PROACTIVE_TEXTS = ["Your order #A-1001 has shipped 📦", "Hi! Your appointment is tomorrow at 10:00, reply YES to confirm.",
              "Reminder: your subscription renews on 01-08."]
EDITED_TEXTS = ["(edited) Sorry, typo: order #12346", "Correction: refund is €15,00, not €12,50",
          "", "Updated:\n\"new\" tracking link sent"]
RESOLVE_REASONS = ["Solved", "Information provided", "Refund issued", "Spam",
                    "No response needed", "Duplicate, see other conversation"]
RESOLVE_COMMENTS = ["Customer confirmed, closing", 'Refund of €12,50 issued; "goodwill" gesture',
                     "Escalated to 2nd line\nticket #4711", "=follow up next week",
                     "Kunde zufrieden – erledigt ✅", "-"]
HANDOVER_REASONS = ["CONTACT_REQUESTED_AGENT", "INTENT_NOT_RECOGNIZED", "ESCALATION",
                     "CONTACT_REQUESTED_AGENT"]
FOLLOW_UP_QUESTIONS = ["What could we improve?", "Wat kunnen we beter doen?", "Why this score?"]
FOLLOW_UP_ANSWERS = ["Faster replies, please", 'Great service, "Jan" was very helpful!',
             "Trop lent,\nmais poli", "👍", "-", "=1+1", ""]
ATTRIBUTES = [
    ("at-1", "Customer tier", "LIST", ["Gold", "Silver", "Bronze", "Platinum, legacy"]),
    ("at-2", "Lifetime value", "NUMBER", ["1234.50", "0", "-12.5", "99", "1e3"]),
    ("at-3", "Newsletter", "BOOLEAN", ["true", "false"]),
    ("at-4", "Birthday", "DATE", ["1990-04-12", "1985-12-31", "2001-02-28"]),
    ("at-5", "Notes", "TEXT", ['Prefers "WhatsApp", not email', "Line 1\nLine 2",
                               "Spricht Deutsch – höflich", "🎉 loyal since 2015", ""]),
    ("at-6", "Address", "TEXT", ["Keizersgracht 123, 1015 CJ Amsterdam",
                                 "1 Rue de Rivoli, 75001 Paris", "Hauptstraße 5\n10115 Berlin"]),
    ("at-7", "Order number", "TEXT", ["=HYPERLINK(\"x\")", "+31-2024-001", "A-1001", "@home"]),
]
# how many conversations start in each UTC hour, relatively
HOUR_WEIGHTS = [3, 2, 2, 2, 2, 3, 5, 7, 9, 10, 10, 10, 10, 10, 11, 11, 10, 9, 8, 7, 6, 5, 4, 3]
HOURS = list(range(24))
HOUR_CUMULATIVE_WEIGHTS = [sum(HOUR_WEIGHTS[: i + 1]) for i in range(24)]
# CSAT scores and how often each is given, relatively
SCORES = [1, 2, 3, 4, 5]
SCORE_WEIGHTS = [5, 7, 13, 30, 45]
