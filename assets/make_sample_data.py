#!/usr/bin/env python3
"""Generate the sample domain data for Conversational QA Studio.

Everything this script writes describes a FICTIONAL health insurer,
"Nilgiri Health Insurance Ltd.", and its FICTIONAL product "Family Health
Shield". All files are derived from the single fact sheet defined below
(``FACTS``), so no file can contradict another.

Run from the repository root (or from anywhere):

    python assets/make_sample_data.py

Outputs (written next to this script):

    insurer_faq.csv       training FAQ, columns question,answer,topic
    test_detailed.csv     held-out questions with long reference answers
    test_brief.csv        held-out questions with one-sentence answers
    policy_wording.md     policy wording document (Markdown)
    policy_wording.pdf    the same document as a PDF (needs fpdf2)
    memory_bench.jsonl    multi-turn conversations for the memory benchmark
    README.md             description of the files and key facts

Only the Python standard library is needed, except for the PDF, which uses
the small pure-Python package fpdf2. If fpdf2 is not installed the script
says so and skips only the PDF. The output is deterministic: there is no
randomness, and the PDF gets a fixed creation date.
"""
from __future__ import annotations

import csv
import io
import json
import re
import string
import sys
from datetime import datetime, timezone
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------

def inr(amount: int) -> str:
    """Format rupees with Indian digit grouping: 250000 -> 'Rs. 2,50,000'."""
    digits = str(int(amount))
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        digits = ",".join(groups + [tail])
    return "Rs. " + digits


def lakh(amount_in_lakh: int) -> str:
    """Format a sum insured given in lakh: 5 -> 'Rs. 5 lakh', 100 -> 'Rs. 1 crore'."""
    if amount_in_lakh >= 100:
        return f"Rs. {amount_in_lakh // 100} crore"
    return f"Rs. {amount_in_lakh} lakh"


def join_words(items: list[str], conj: str = "and") -> str:
    items = list(items)
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} {conj} {items[1]}"
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def semi_list(items: list[str]) -> str:
    """Join list items that themselves contain 'and': 'a; b; and c'."""
    items = list(items)
    return "; ".join(items[:-1]) + "; and " + items[-1] if len(items) > 1 else items[0]


def si_options(plan: dict) -> str:
    return join_words([lakh(x) for x in plan["si_lakh"]], "or")


# ---------------------------------------------------------------------------
# THE FACT SHEET
#
# Naming convention (used by the consistency check): an integer stored under a
# key ending in _days, _months, _hours or _years is a duration, _rs is an amount
# in rupees, _lakh is a sum insured in lakh, and _pct is a percentage. Every
# such quantity that appears anywhere in the generated text must come from here.
# ---------------------------------------------------------------------------

INSURER = {
    "name": "Nilgiri Health Insurance Ltd.",
    "short": "Nilgiri Health",
    "product": "Family Health Shield",
    "tpa": "Pallava Health TPA Pvt. Ltd.",
    "app": "Nilgiri Care app",
    "website": "www.nilgirihealth.example",
    "claims_helpline": "1800 266 4545",
    "claims_hours": "24 hours a day, 7 days a week",
    "claims_hours_hours": 24,
    "claims_hours_days": 7,
    "service_helpline": "1800 266 4546",
    "service_hours": "8 am to 8 pm, Monday to Saturday",
    "email_care": "care@nilgirihealth.example",
    "email_claims": "claims@nilgirihealth.example",
    "email_grievance": "grievance@nilgirihealth.example",
    "claims_address": ("Claims Department, Nilgiri Health Insurance Ltd., 3rd Floor, "
                       "Lakeview Business Park, Avinashi Road, Coimbatore 641018"),
    "network_hospitals": "more than 8,500",
}

POLICY = {
    "term_years": 1,
    "min_hospitalisation_hours": 24,
    "day_care_count": "more than 540",
    "payment_modes": ["annually", "half-yearly", "quarterly", "monthly"],
    "payment_methods": "UPI, net banking, debit card, credit card, or an e-mandate (auto-debit) for instalments",
    "hospital_beds_small_town": 10,
    "hospital_beds_elsewhere": 15,
}

ELIGIBILITY = {
    "adult_min_age_years": 18,
    "adult_max_entry_age_years": 65,
    "child_min_age_days": 91,
    "child_max_age_years": 25,
    "floater_max_adults": 2,
    "floater_max_children": 3,
    "medical_test_from_age_years": 50,
    "spouse_midterm_days": 30,
}

PLANS = {
    "Silver": {
        "si_lakh": [3, 5],
        "room_rent_pct": 1,
        "icu_pct": 2,
        "pre_hosp_days": 30,
        "post_hosp_days": 60,
        "ambulance_rs": 2000,
        "air_ambulance_rs": None,
        "ped_months": 36,
        "maternity_rs": None,
        "ncb_step_pct": 10,
        "ncb_max_pct": 50,
        "restore_pct": None,
        "ayush_rs": 50000,
        "domiciliary_pct": None,
        "health_checkup_rs": None,
        "opd_rs": None,
        "consumables": False,
        "senior_copay_pct": 20,
        "cataract_rs": 40000,
    },
    "Gold Plus": {
        "si_lakh": [5, 10, 15],
        "room_rent_pct": None,
        "icu_pct": None,
        "pre_hosp_days": 60,
        "post_hosp_days": 90,
        "ambulance_rs": 5000,
        "air_ambulance_rs": None,
        "ped_months": 36,
        "maternity_rs": 50000,
        "ncb_step_pct": 25,
        "ncb_max_pct": 100,
        "restore_pct": 100,
        "ayush_rs": None,
        "domiciliary_pct": 10,
        "health_checkup_rs": 2500,
        "opd_rs": None,
        "consumables": False,
        "senior_copay_pct": 20,
        "cataract_rs": 75000,
    },
    "Platinum": {
        "si_lakh": [25, 50, 100],
        "room_rent_pct": None,
        "icu_pct": None,
        "pre_hosp_days": 60,
        "post_hosp_days": 180,
        "ambulance_rs": 10000,
        "air_ambulance_rs": 250000,
        "ped_months": 24,
        "maternity_rs": 100000,
        "ncb_step_pct": 50,
        "ncb_max_pct": 100,
        "restore_pct": 100,
        "ayush_rs": None,
        "domiciliary_pct": 10,
        "health_checkup_rs": 5000,
        "opd_rs": 10000,
        "consumables": True,
        "senior_copay_pct": 10,
        "cataract_rs": None,
    },
}
# Room category in a few words, per plan (used in the README).
ROOM_SHORT = {
    "Silver": f"up to {PLANS['Silver']['room_rent_pct']}% of the sum insured per day (ICU up to "
              f"{PLANS['Silver']['icu_pct']}%)",
    "Gold Plus": "single private air-conditioned room, ICU at actual cost",
    "Platinum": "any room category, no limit on room or ICU rent",
}

WAITING = {
    "initial_days": 30,
    "specific_months": 24,
    "maternity_months": 24,
    "ped_definition_months": 36,
    "moratorium_months": 60,
    "max_deliveries": 2,
}

# Illnesses and procedures with the specific waiting period (WAITING["specific_months"]).
SPECIFIC_ILLNESSES = [
    "Cataract",
    "Benign prostatic hypertrophy (enlarged prostate)",
    "Hernia of all types",
    "Hydrocele",
    "Haemorrhoids (piles), fissure and fistula in the anus",
    "Stones in the kidney, ureter, bladder or gall bladder",
    "Sinusitis, tonsillitis and other non-cancerous ear, nose and throat disorders",
    "Knee or hip joint replacement, unless needed because of an accident",
    "Varicose veins of the legs",
    "Hysterectomy or removal of uterine fibroids for non-cancerous conditions",
    "Gout, osteoarthritis and osteoporosis",
    "Non-cancerous lumps, cysts and polyps, including breast lumps",
]

EXCLUSIONS = [
    ("cosmetic", "Cosmetic or plastic surgery, unless it is reconstruction needed after an accident, burns or cancer"),
    ("dental", "Dental treatment, unless it requires hospitalisation because of an accident"),
    ("spectacles", "Spectacles, contact lenses, hearing aids and walking aids"),
    ("self_harm", "Intentional self-injury and treatment for alcohol or drug abuse"),
    ("adventure", "Injury from taking part in hazardous or adventure sports such as scuba diving, paragliding or motor racing"),
    ("war", "War, invasion, terrorism-related nuclear, chemical or biological events, and nuclear contamination"),
    ("abroad", "Treatment taken outside India"),
    ("unproven", "Unproven or experimental treatment"),
    ("infertility", "Infertility and assisted reproduction, including IVF"),
    ("obesity", "Treatment for obesity or weight control"),
    ("sex_change", "Sex-change treatment"),
    ("diagnostics_only", "Admission mainly for investigations or evaluation, with no active treatment"),
    ("rest_cure", "Rest cures, rehabilitation, respite care and spa or rejuvenation therapy"),
    ("congenital_external", "External congenital anomalies (visible birth defects)"),
    ("breach_of_law", "Injury or illness caused by committing or attempting a breach of law with criminal intent"),
    ("supplements", "Vitamins, tonics and nutritional supplements, unless prescribed as part of hospital treatment"),
    ("non_network_excluded", "Treatment at a hospital that we have publicly listed as excluded because of fraud, except in a life-threatening emergency"),
]
NON_PAYABLE_EXAMPLES = ["gloves", "masks", "admission kits", "toiletries", "diapers", "documentation charges"]

DAY_CARE_EXAMPLES = [
    "chemotherapy",
    "radiotherapy",
    "haemodialysis",
    "cataract surgery",
    "lithotripsy for kidney stones",
    "tonsillectomy",
    "dilatation and curettage (D&C)",
    "coronary angiography",
    "arthroscopic knee surgery",
    "endoscopic removal of a swallowed foreign body",
]

MODERN_TREATMENTS = [
    "robotic surgery", "oral chemotherapy", "immunotherapy (monoclonal antibody injections)",
    "stereotactic radiosurgery", "intra-vitreal injections", "balloon sinuplasty",
    "deep brain stimulation", "bronchial thermoplasty",
    "stem cell therapy for blood disorders", "uterine artery embolisation",
]
MODERN_TREATMENT = {"limit_pct": 50}

AYUSH_SYSTEMS = ["Ayurveda", "Yoga and Naturopathy", "Unani", "Siddha", "Homeopathy"]

DOMICILIARY = {"min_days": 3}

CLAIMS = {
    "planned_preauth_hours": 48,
    "emergency_intimation_hours": 24,
    "preauth_decision_hours": 1,
    "discharge_auth_hours": 3,
    "reimb_intimation_hours": 48,
    "reimb_docs_days": 30,
    "post_hosp_docs_days": 15,
    "settlement_days": 30,
    "investigation_days": 45,
    "interest_above_bank_rate_pct": 2,
}
CLAIM_DOCUMENTS = [
    "the signed claim form",
    "the original discharge summary",
    "the final hospital bill with an itemised break-up and the payment receipt",
    "all investigation and test reports",
    "prescriptions and pharmacy bills",
    "the doctor's note advising admission",
    "a copy of your photo ID and PAN card",
    "a cancelled cheque or bank details for the NEFT transfer",
]
ACCIDENT_DOCUMENTS = "a copy of the FIR or the medico-legal certificate (MLC)"

FREE_LOOK = {"period_days": 30}

CANCELLATION = {
    "refund_within_days": 15,
    "table": [
        ("Up to 30 days", 75),
        ("31 to 90 days", 50),
        ("91 to 180 days", 25),
        ("More than 180 days", 0),
    ],
    "table_days": [30, 31, 90, 91, 180],
}
CANCEL_PCTS = {"r1_pct": 75, "r2_pct": 50, "r3_pct": 25}

RENEWAL = {
    "grace_days": 30,
    "grace_monthly_days": 15,
}

PORTABILITY = {"latest_days": 30, "earliest_days": 60}

TAX = {
    "self_family_rs": 25000,
    "self_family_senior_rs": 50000,
    "parents_rs": 25000,
    "parents_senior_rs": 50000,
    "preventive_rs": 5000,
    "senior_age_years": 60,
    "max_young_self_senior_parents_rs": 75000,
    "max_all_senior_rs": 100000,
}

GRIEVANCE = {
    "ack_working_days": 3,
    "resolve_days": 14,
    "ombudsman_no_reply_days": 30,
    "ombudsman_within_years": 1,
}

SENIOR = {"copay_from_age_years": 61}

# Illustrative annual premiums, including all applicable taxes.
PREMIUMS = [
    {"plan": "Silver", "si_lakh": 5, "cover": "individual", "who": "a 30-year-old", "age_years": 30, "premium_rs": 6240},
    {"plan": "Silver", "si_lakh": 3, "cover": "individual", "who": "a 62-year-old", "age_years": 62, "premium_rs": 15870},
    {"plan": "Gold Plus", "si_lakh": 10, "cover": "individual", "who": "a 30-year-old", "age_years": 30, "premium_rs": 11480},
    {"plan": "Gold Plus", "si_lakh": 10, "cover": "family floater",
     "who": "two adults aged 35 and 33 with two children", "ages_years": [35, 33], "premium_rs": 24960},
    {"plan": "Platinum", "si_lakh": 25, "cover": "individual", "who": "a 45-year-old", "age_years": 45, "premium_rs": 27350},
    {"plan": "Platinum", "si_lakh": 50, "cover": "family floater",
     "who": "two adults aged 40 and 38 with one child", "ages_years": [40, 38], "premium_rs": 46900},
]


def _build_examples() -> dict:
    """Worked examples, computed from the facts above (they are part of the fact sheet)."""
    silver = PLANS["Silver"]
    ex = {}
    # Silver daily room and ICU limits for each sum insured option.
    for s in silver["si_lakh"]:
        ex[f"silver_{s}_room_rs"] = s * 100000 * silver["room_rent_pct"] // 100
        ex[f"silver_{s}_icu_rs"] = s * 100000 * silver["icu_pct"] // 100
    # Proportionate deduction example: Silver Rs. 5 lakh, room of Rs. 7,500 a day.
    ex["pd_eligible_rs"] = ex["silver_5_room_rs"]
    ex["pd_room_rs"] = 7500
    ex["pd_associated_rs"] = 60000
    ex["pd_payable_rs"] = ex["pd_associated_rs"] * ex["pd_eligible_rs"] // ex["pd_room_rs"]
    # Co-payment example on an admissible claim of Rs. 1,00,000.
    ex["copay_claim_rs"] = 100000
    ex["copay_20_share_rs"] = ex["copay_claim_rs"] * PLANS["Gold Plus"]["senior_copay_pct"] // 100
    ex["copay_10_share_rs"] = ex["copay_claim_rs"] * PLANS["Platinum"]["senior_copay_pct"] // 100
    ex["copay_20_paid_rs"] = ex["copay_claim_rs"] - ex["copay_20_share_rs"]
    ex["copay_10_paid_rs"] = ex["copay_claim_rs"] - ex["copay_10_share_rs"]
    # No-claim bonus example: Gold Plus Rs. 10 lakh, two claim-free years.
    g = PLANS["Gold Plus"]
    ex["ncb_base_lakh"] = 10
    ex["ncb_after_1_rs"] = 10 * 100000 * (100 + g["ncb_step_pct"]) // 100
    ex["ncb_after_2_rs"] = 10 * 100000 * (100 + 2 * g["ncb_step_pct"]) // 100
    ex["ncb_two_year_pct"] = 2 * g["ncb_step_pct"]
    # Domiciliary limit for the smallest Gold Plus sum insured.
    ex["dom_gp5_rs"] = 5 * 100000 * g["domiciliary_pct"] // 100
    # Modern treatment limit for Gold Plus Rs. 10 lakh.
    ex["modern_gp10_rs"] = 10 * 100000 * MODERN_TREATMENT["limit_pct"] // 100
    return ex


EXAMPLES = _build_examples()

FACTS = {
    "insurer": INSURER, "policy": POLICY, "eligibility": ELIGIBILITY, "plans": PLANS,
    "waiting": WAITING, "specific_illnesses": SPECIFIC_ILLNESSES, "exclusions": EXCLUSIONS,
    "day_care": DAY_CARE_EXAMPLES, "modern_treatment": MODERN_TREATMENT, "domiciliary": DOMICILIARY,
    "claims": CLAIMS, "free_look": FREE_LOOK, "cancellation": CANCELLATION, "cancel_pcts": CANCEL_PCTS,
    "renewal": RENEWAL, "portability": PORTABILITY, "tax": TAX, "grievance": GRIEVANCE,
    "senior": SENIOR, "premiums": PREMIUMS, "examples": EXAMPLES,
}

S, G, P = PLANS["Silver"], PLANS["Gold Plus"], PLANS["Platinum"]
I, W, C, E = INSURER, WAITING, CLAIMS, EXAMPLES
# Short list of the specific illnesses, for use inside sentences.
SPECIFIC_SHORT = ("cataract, enlarged prostate, hernia, hydrocele, piles, fissure and fistula, kidney and "
                  "gall bladder stones, sinusitis and tonsillitis, knee and hip replacement (unless needed "
                  "after an accident), varicose veins, hysterectomy for non-cancerous conditions, gout and "
                  "osteoarthritis, and non-cancerous lumps and cysts")

# Short names used throughout the text below.
INIT = W["initial_days"]
SPEC = W["specific_months"]
MATW = W["maternity_months"]
MOR = W["moratorium_months"]
PED = {name: plan["ped_months"] for name, plan in PLANS.items()}
CL_TEL, SV_TEL = I["claims_helpline"], I["service_helpline"]
CARE, CLAIMS_EMAIL, GRIEV = I["email_care"], I["email_claims"], I["email_grievance"]
APP, WEB, TPA = I["app"], I["website"], I["tpa"]
EL = ELIGIBILITY
COPAY_AGE = SENIOR["copay_from_age_years"]
GRACE, GRACE_M = RENEWAL["grace_days"], RENEWAL["grace_monthly_days"]
FL = FREE_LOOK["period_days"]
MOD = MODERN_TREATMENT["limit_pct"]


# ---------------------------------------------------------------------------
# Training FAQ
# ---------------------------------------------------------------------------

def build_faq() -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []

    def add(topic: str, question: str, answer: str) -> None:
        rows.append((question, answer, topic))

    prem = {(p["plan"], p["si_lakh"], p["cover"]): p for p in PREMIUMS}
    s5 = prem[("Silver", 5, "individual")]
    s3 = prem[("Silver", 3, "individual")]
    g10 = prem[("Gold Plus", 10, "individual")]
    g10f = prem[("Gold Plus", 10, "family floater")]
    p25 = prem[("Platinum", 25, "individual")]
    p50f = prem[("Platinum", 50, "family floater")]

    # --- general -----------------------------------------------------------
    add("general", "What is the Family Health Shield policy?",
        f"Family Health Shield is a health insurance policy from {I['name']} that pays for hospital treatment "
        f"taken in India. It comes in three plans, Silver, Gold Plus and Platinum, and you can buy it for one "
        f"person or as a family floater.")
    add("general", "Which plans does Nilgiri Health offer under Family Health Shield?",
        f"There are three plans. Silver offers a sum insured of {si_options(S)}, Gold Plus offers "
        f"{si_options(G)}, and Platinum offers {si_options(P)}.")
    add("general", "What's the main difference between Silver, Gold Plus and Platinum?",
        "Silver is the basic plan, with a room rent limit and no maternity cover. Gold Plus adds a single private "
        "room, maternity cover, restoration of the sum insured and an annual health check-up. Platinum has no room "
        f"rent limit, a shorter {PED['Platinum']}-month waiting period for pre-existing diseases, OPD cover and "
        "air ambulance cover.")
    add("general", "Who settles the claims, Nilgiri Health or a TPA?",
        f"Claims are processed on our behalf by {TPA}, our third-party administrator (TPA). The TPA handles "
        "cashless approvals and reimbursement claims, and the claim is paid under your Nilgiri Health policy.")
    add("general", "What does TPA mean?",
        "TPA stands for third-party administrator, a company licensed to process health insurance claims for "
        f"insurers. Our TPA is {TPA}, and its help desk at network hospitals is where your cashless request starts.")
    add("general", "Does the policy cover treatment abroad?",
        "No. The policy covers only treatment taken in India; treatment taken outside India is excluded.")
    add("general", "How long is the policy valid?",
        f"The policy is issued for {POLICY['term_years']} year at a time and can be renewed every year for life.")
    add("general", "Does the insurance pay the actual hospital bill or a fixed amount?",
        "It pays the actual, reasonable medical expenses of your treatment, up to your sum insured and subject to "
        "the limits of your plan. It is not a fixed-benefit policy, so you cannot claim more than you spent.")
    add("general", "What is meant by sum insured?",
        "The sum insured is the maximum amount we will pay for all claims in one policy year. On a family floater, "
        "the whole family shares this amount.")
    add("general", "what is a family floater",
        "A family floater is a single policy that covers you, your spouse and your dependent children under one "
        "shared sum insured. Any member can use the full amount, but the total paid for all members in a policy "
        "year cannot exceed the sum insured.")
    add("general", "Should I take a floater or separate policies for my family?",
        "Both options are available. A floater is usually cheaper because the family shares one sum insured, while "
        "individual policies give each person their own sum insured, which can suit older members or people with "
        "health conditions.")
    add("general", "Do I have to stay in hospital for a minimum time to claim?",
        f"Yes. Hospitalisation must last at least {POLICY['min_hospitalisation_hours']} consecutive hours, except "
        "for day-care procedures, which need less time in hospital because of modern medical technology.")
    add("general", "What does the policy treat as a hospital?",
        "A hospital is an institution registered as a hospital with the local authorities, or one that has at "
        f"least {POLICY['hospital_beds_small_town']} inpatient beds in towns with a population under 10 lakh "
        f"({POLICY['hospital_beds_elsewhere']} beds elsewhere). It must also have qualified doctors and nurses on "
        "duty round the clock, a fully equipped operation theatre if it performs surgery, and daily patient "
        "records.")
    add("general", "Is Family Health Shield an indemnity policy?",
        "Yes. It reimburses or settles the actual expenses of covered treatment, up to the sum insured and the "
        "limits of your plan.")
    add("general", "Is the sum insured per year or for the whole life of the policy?",
        "It is per policy year. The sum insured is available afresh at every renewal, along with any no-claim "
        "bonus you have earned.")

    # --- plans and sums insured --------------------------------------------
    add("plans", "What sum insured can I choose under the Silver plan?",
        f"Silver is available with a sum insured of {si_options(S)}.")
    add("plans", "What are the sum insured options on Gold Plus?",
        f"Gold Plus can be taken with a sum insured of {si_options(G)}.")
    add("plans", "How much cover does the Platinum plan give?",
        f"Platinum offers a sum insured of {si_options(P)} per policy year.")
    add("plans", "What's the highest sum insured I can buy?",
        f"The highest is {lakh(max(P['si_lakh']))}, available on the Platinum plan.")
    add("plans", "What is the lowest cover I can buy?",
        f"The lowest sum insured is {lakh(min(S['si_lakh']))}, on the Silver plan.")
    add("plans", "Can I get a sum insured somewhere between 15 and 25 lakh?",
        f"No. Gold Plus goes up to {lakh(max(G['si_lakh']))} and Platinum starts at {lakh(min(P['si_lakh']))}, "
        "so you would need to choose one of those two options.")
    add("plans", "Which plan should I pick if I want maternity cover?",
        f"Choose Gold Plus or Platinum. Silver does not cover maternity; Gold Plus pays up to "
        f"{inr(G['maternity_rs'])} per delivery and Platinum up to {inr(P['maternity_rs'])}, after a "
        f"{MATW}-month waiting period.")
    add("plans", "Which plan has no room rent limit?",
        "Platinum. It lets you choose any room category, with no cap on room or ICU rent.")
    add("plans", "I'm on a tight budget. Which plan is cheapest?",
        f"Silver is the most affordable plan. For example, {s5['who']} pays about {inr(s5['premium_rs'])} a year "
        f"for {lakh(s5['si_lakh'])} of cover, including taxes.")
    add("plans", "Can I increase my sum insured?",
        "You can ask for a higher sum insured at renewal, subject to underwriting. Waiting periods apply afresh to "
        "the increased part of the cover, while your earlier cover keeps the waiting-period credit you have "
        "already earned.")
    add("plans", "Can I raise my cover in the middle of the policy year?",
        "No. The sum insured can be changed only at renewal, not during the policy year.")
    add("plans", "How do I move from Silver to Gold Plus?",
        "You can migrate to Gold Plus at renewal. The waiting periods you have completed are credited up to your "
        "existing sum insured, but benefits that Silver did not have, such as maternity, start their waiting "
        "periods from the date you move.")
    add("plans", "Can I lower my sum insured at renewal?",
        "Yes, you can choose a lower sum insured option at renewal. The waiting-period credit you have earned "
        "continues for the lower amount.")
    add("plans", "Does Platinum really pay for consumables like gloves and masks?",
        f"Yes. Platinum pays for consumables and other items that are normally non-payable, such as "
        f"{join_words(NON_PAYABLE_EXAMPLES[:4])}. Silver and Gold Plus do not cover them.")
    add("plans", "Which plan is best for senior parents?",
        f"Any plan can cover them if they join by age {EL['adult_max_entry_age_years']}. If they join at "
        f"{COPAY_AGE} or above, Platinum has the lowest co-payment, {P['senior_copay_pct']}%, compared with "
        f"{S['senior_copay_pct']}% on Silver and Gold Plus.")
    add("plans", "Do all plans have the same waiting periods?",
        f"Mostly, yes. The initial {INIT}-day and specific {SPEC}-month waiting periods are the same on all plans, "
        f"but the pre-existing disease waiting period is {PED['Silver']} months on Silver and Gold Plus and "
        f"{PED['Platinum']} months on Platinum.")

    # --- premium -------------------------------------------------------------
    add("premium", "How much is the Gold Plus plan per year?",
        f"As an illustration, Gold Plus with a sum insured of {lakh(g10['si_lakh'])} costs about "
        f"{inr(g10['premium_rs'])} a year for {g10['who']}, including taxes. Your actual premium depends on your "
        "age, plan, sum insured and the people covered.")
    add("premium", "What would a family of four pay for Gold Plus?",
        f"For {g10f['who']}, a {lakh(g10f['si_lakh'])} Gold Plus family floater costs about "
        f"{inr(g10f['premium_rs'])} a year, including taxes. Get an exact quote on our website or app, since "
        "premiums depend on everyone's age.")
    add("premium", "how much is silver for a 30 year old",
        f"About {inr(s5['premium_rs'])} a year for a sum insured of {lakh(s5['si_lakh'])}, including taxes. "
        "The exact premium is shown when you get a quote online.")
    add("premium", "What does Silver cost for a senior citizen?",
        f"As an example, {s3['who']} pays about {inr(s3['premium_rs'])} a year for Silver with a "
        f"{lakh(s3['si_lakh'])} sum insured, including taxes. Because the person joins at {COPAY_AGE} or above, "
        f"a {S['senior_copay_pct']}% co-payment also applies to each claim.")
    add("premium", "What's the premium for the Platinum plan?",
        f"Platinum with {lakh(p25['si_lakh'])} costs about {inr(p25['premium_rs'])} a year for {p25['who']}, and "
        f"a {lakh(p50f['si_lakh'])} family floater for {p50f['who']} costs about {inr(p50f['premium_rs'])}. "
        "Both figures include taxes.")
    add("premium", "What decides how much premium I pay?",
        "Your premium depends on the plan, the sum insured, the age of each person covered, and whether you choose "
        "individual or floater cover. It does not depend on the claims you have made.")
    add("premium", "Will my premium go up after I make a claim?",
        "No. We do not increase your renewal premium because you made a claim. Premiums change only when you move "
        "into a higher age band or when a product-wide revision is approved by the regulator.")
    add("premium", "Does my premium increase as I get older?",
        "Yes. Premiums are set by age band, so your premium rises at renewal when you move into a higher age band.")
    add("premium", "Can I pay the premium in monthly instalments?",
        f"Yes. You can pay {join_words(POLICY['payment_modes'], 'or')}. Monthly payments are collected through "
        "an e-mandate (auto-debit) from your bank account.")
    add("premium", "How can I pay my premium?",
        f"You can pay by {POLICY['payment_methods']}.")
    add("premium", "Are the premiums you quote inclusive of tax?",
        "Yes. The illustrative premiums we publish include all applicable taxes.")
    add("premium", "Can I pay my premium in cash?",
        "We accept UPI, net banking, debit and credit cards, and e-mandates, but not cash. Paying by these "
        "non-cash modes also keeps the premium eligible for the Section 80D tax deduction.")
    add("premium", "Is a floater cheaper than buying separate policies?",
        "Usually, yes. Because the family shares one sum insured, a floater generally costs less than separate "
        "individual policies with the same sum insured for each person.")

    # --- eligibility -------------------------------------------------------
    add("eligibility", "What's the minimum age to take this policy?",
        f"Adults can join from age {EL['adult_min_age_years']}. Children can be covered from "
        f"{EL['child_min_age_days']} days old up to {EL['child_max_age_years']} years as dependants on a "
        "parent's policy.")
    add("eligibility", "Is there a maximum age for buying the policy?",
        f"Yes. Adults can join up to age {EL['adult_max_entry_age_years']}. Once covered, you can renew for life "
        "with no upper age limit.")
    add("eligibility", "My father is seventy. Can he get a new Family Health Shield policy?",
        f"Unfortunately not. The maximum entry age is {EL['adult_max_entry_age_years']} years, so he cannot join "
        "as a new customer. People who joined earlier can keep renewing for life.")
    add("eligibility", "Can I cover my newborn baby?",
        f"Children can be added as members from {EL['child_min_age_days']} days of age. If the mother's maternity "
        "cover is active, the newborn is also covered from birth until the end of that policy year, within the "
        "family's sum insured.")
    add("eligibility", "Till what age can my children stay on my floater?",
        f"Dependent children can stay on the floater until they are {EL['child_max_age_years']} years old. After "
        "that they can take their own policy, and the waiting periods they have already served are credited.")
    add("eligibility", "How many family members can one floater policy cover?",
        "A floater can cover up to two adults (you and your spouse) and up to three dependent children.")
    add("eligibility", "Can my parents be on my family floater?",
        "No. The floater covers you, your spouse and your dependent children. Your parents can be covered under a "
        "separate individual policy or a separate floater for the two of them.")
    add("eligibility", "Do I need a medical check-up before buying?",
        f"Applicants aged {EL['medical_test_from_age_years']} years or above need a pre-policy health check-up "
        "at one of our designated centres. We may also ask younger applicants for tests if they declare a health "
        "condition, and we pay for the check-up.")
    add("eligibility", "Who pays for the pre-policy medical tests?",
        "We do. The pre-policy check-up is arranged at a designated centre at our cost. If you cancel the policy "
        "in the free-look period, the cost of the tests is deducted from your refund.")
    add("eligibility", "Can I buy the policy if I already have diabetes?",
        f"Yes. Declare it in the proposal form. Diabetes will be treated as a pre-existing disease, so "
        f"hospitalisation related to it is covered after {PED['Silver']} months on Silver and Gold Plus, or "
        f"{PED['Platinum']} months on Platinum.")
    add("eligibility", "What happens if I hide an existing illness when buying?",
        "Non-disclosure of a material fact can lead to a claim being rejected and the policy being cancelled. "
        f"After {MOR} months of continuous cover, however, we cannot contest a claim on grounds of non-disclosure "
        "unless fraud is proven.")
    add("eligibility", "Do I need to tell you that I smoke?",
        "Yes. Answer every question in the proposal form truthfully, including questions on smoking, alcohol and "
        "tobacco use. Incorrect answers can affect your claims.")
    add("eligibility", "Can I add my wife after our wedding?",
        f"Yes. A newly married spouse can be added during the policy year within {EL['spouse_midterm_days']} "
        "days of the marriage, by paying the pro-rata premium. Otherwise, new members are added at renewal.")
    add("eligibility", "When can I add a new member to my policy?",
        f"New members are added at renewal. The exceptions are a spouse, who can be added within "
        f"{EL['spouse_midterm_days']} days of marriage, and a newborn, who is covered from birth until the end of "
        "the policy year if the mother's maternity cover is active.")
    add("eligibility", "Do waiting periods apply to a member added later?",
        "Yes. For a newly added member, all waiting periods start from the date that person joins the policy.")
    add("eligibility", "What documents do I need to buy a policy?",
        "You need a completed proposal form with health details, and KYC documents such as your PAN card or "
        f"Aadhaar. People aged {EL['medical_test_from_age_years']} years or above also need to complete the "
        "pre-policy check-up.")
    add("eligibility", "Can I buy the policy online?",
        f"Yes. You can buy and pay for it on {WEB} or in the {APP}. Your e-card and policy document are sent to "
        "your registered email address once the policy is issued.")
    add("eligibility", "My son is nineteen and in college. Can he stay on our floater?",
        f"Yes. Dependent children can stay on the family floater until they turn {EL['child_max_age_years']}.")
    add("eligibility", "Is there a separate policy for senior citizens?",
        f"No. Family Health Shield itself accepts adults up to age {EL['adult_max_entry_age_years']} at entry, "
        f"with lifelong renewal. People who join at {COPAY_AGE} or above have a co-payment on claims.")

    # --- waiting periods ---------------------------------------------------
    add("waiting_periods", "What is the initial waiting period?",
        f"There is an initial waiting period of {INIT} days from the start of your first policy. Illnesses that "
        "begin during this time are not covered, but accidents are covered from day one.")
    add("waiting_periods", "Am I covered for an accident during the first 30 days?",
        f"Yes. The {INIT}-day initial waiting period does not apply to accidental injuries, which are covered "
        "from the first day of the policy.")
    add("waiting_periods", "I got dengue ten days after my policy started. Will you pay?",
        f"No. Illnesses that start within the {INIT}-day initial waiting period are not covered, so a dengue "
        "hospitalisation ten days after the start date is not payable.")
    add("waiting_periods", "Does the 30-day waiting period apply again every time I renew?",
        "No. It applies only to your first policy with us, not to renewals without a break.")
    add("waiting_periods", "What is the waiting period for pre-existing diseases?",
        f"Pre-existing diseases are covered after {PED['Silver']} months of continuous cover on Silver and Gold "
        f"Plus, and after {PED['Platinum']} months on Platinum.")
    add("waiting_periods", "how long do i wait for my existing thyroid problem to be covered",
        "A thyroid disorder diagnosed before you bought the policy counts as pre-existing. It is covered after "
        f"{PED['Silver']} months on Silver or Gold Plus, or {PED['Platinum']} months on Platinum, provided you "
        "declared it and renewed without a break.")
    add("waiting_periods", "What exactly is a pre-existing disease?",
        "It is any condition, ailment or injury that was diagnosed by a doctor, or for which you received medical "
        f"advice or treatment, within {W['ped_definition_months']} months before your first policy with us.")
    add("waiting_periods", "I have high blood pressure. When will a hospital stay because of it be covered?",
        "Since your hypertension is pre-existing, hospitalisation caused by it is covered after the pre-existing "
        f"disease waiting period: {PED['Silver']} months on Silver and Gold Plus, or {PED['Platinum']} months on "
        f"Platinum. Unrelated illnesses are covered after the initial {INIT} days.")
    add("waiting_periods", "Which treatments have a two-year waiting period?",
        f"A specific waiting period of {SPEC} months applies to {SPECIFIC_SHORT}.")
    add("waiting_periods", "Is there a waiting period for maternity?",
        f"Yes. Maternity benefits on Gold Plus and Platinum become available after a {MATW}-month waiting "
        "period. Silver does not cover maternity.")
    add("waiting_periods", "Is a heart attack covered in the first year?",
        f"Yes, as long as the heart condition was not pre-existing and the heart attack happens after the initial "
        f"{INIT}-day waiting period. Heart disease is not on the list of specific illnesses with a "
        f"{SPEC}-month wait.")
    add("waiting_periods", "Will cancer treatment be covered if I'm diagnosed in my first policy year?",
        f"Yes, if the cancer was not pre-existing and was diagnosed after the {INIT}-day initial waiting period. "
        f"Cancer is not one of the specific illnesses with a {SPEC}-month waiting period.")
    add("waiting_periods", "If I switch plans, do the waiting periods restart?",
        "No, not for the cover you already had. Time served is credited up to your previous sum insured, and only "
        "the extra sum insured or new benefits such as maternity start fresh waiting periods.")
    add("waiting_periods", "Do waiting periods start again if I forget to renew?",
        "Only if the policy lapses. If you renew within the grace period, you keep all your waiting-period credit, "
        "but a lapsed policy has to be replaced by a new one, which starts all waiting periods from the beginning.")
    add("waiting_periods", "From which date is the waiting period counted?",
        "Waiting periods are counted from the start date of your first Family Health Shield policy, as long as "
        "you keep renewing without a break.")
    add("waiting_periods", "Does the knee replacement waiting period apply if I break my knee in a fall?",
        f"No. The {SPEC}-month waiting period for knee and hip replacement does not apply when the replacement is "
        "needed because of an accident.")
    add("waiting_periods", "Can I pay extra to skip the waiting period for my existing condition?",
        f"No. The pre-existing disease waiting period cannot be bought off. Platinum has the shortest one, "
        f"{PED['Platinum']} months, compared with {PED['Silver']} months on Silver and Gold Plus.")
    add("waiting_periods", "Are accidents subject to any waiting period?",
        "No. Hospitalisation because of an accident is covered from the first day of the policy, subject to the "
        "other terms of your plan.")
    add("waiting_periods", "what's the PED waiting on gold plus",
        f"On Gold Plus, pre-existing diseases are covered after {PED['Gold Plus']} months of continuous cover.")
    add("waiting_periods", "How long is the pre-existing disease waiting period on Platinum?",
        f"Platinum has a {PED['Platinum']}-month waiting period for pre-existing diseases, the shortest of our "
        "three plans.")
    add("waiting_periods", "Is the pre-existing disease waiting period the same on Silver as on Gold Plus?",
        f"Yes. Both plans have a {PED['Silver']}-month waiting period for pre-existing diseases.")
    add("waiting_periods", "My wife is six months pregnant. Will our new Gold Plus policy pay for the delivery?",
        f"No. Maternity on Gold Plus has a {MATW}-month waiting period from the start of the policy, so a "
        "delivery in the first two years is not covered.")
    add("waiting_periods", "Do infections like malaria or typhoid have a waiting period?",
        f"Only the initial {INIT}-day waiting period. After that, infections such as dengue, malaria and typhoid "
        "are covered like any other illness that is not pre-existing.")
    add("waiting_periods", "If an illness is both pre-existing and on the specific list, which waiting period applies?",
        f"The longer of the two applies. For example, a hernia diagnosed before you joined Silver or Gold Plus is "
        f"covered after {PED['Silver']} months, not {SPEC}.")
    add("waiting_periods", "Do I have to serve the waiting periods again when my child moves to her own policy?",
        "No. When a child moves from your floater to her own Family Health Shield policy, the waiting periods "
        "she has already served are credited.")

    # --- specific illnesses (24-month list) -------------------------------
    add("specific_illnesses", "When can I claim for cataract surgery?",
        f"Cataract has a specific {SPEC}-month waiting period, so cataract surgery can be claimed only after two "
        "years of continuous cover.")
    add("specific_illnesses", "Is there a limit on how much you pay for cataract surgery?",
        f"Yes, on two plans. Cataract surgery is paid up to {inr(S['cataract_rs'])} per eye on Silver and up to "
        f"{inr(G['cataract_rs'])} per eye on Gold Plus. Platinum pays up to the sum insured.")
    add("specific_illnesses", "Does Gold Plus cap cataract costs?",
        f"Yes. Gold Plus pays up to {inr(G['cataract_rs'])} per eye for cataract surgery, once the {SPEC}-month "
        "waiting period is over.")
    add("specific_illnesses", "My father has an enlarged prostate. How long before surgery for it is covered?",
        f"Enlarged prostate has a {SPEC}-month waiting period. If it was diagnosed before the policy started, it "
        f"is also pre-existing and the longer wait applies: {PED['Silver']} months on Silver or Gold Plus, or "
        f"{PED['Platinum']} months on Platinum.")
    add("specific_illnesses", "Is hernia surgery covered straight away?",
        f"No. Hernia of all types has a specific waiting period of {SPEC} months from the start of your first "
        "policy.")
    add("specific_illnesses", "What's the waiting time for hydrocele surgery?",
        f"Hydrocele is on the list of specific illnesses, so it is covered after {SPEC} months of continuous cover.")
    add("specific_illnesses", "Can I claim for piles surgery after one year?",
        f"No. Piles, fissure and fistula have a {SPEC}-month waiting period, so surgery is covered only after two "
        "years of continuous cover.")
    add("specific_illnesses", "Is fistula surgery covered?",
        f"Yes, once the specific waiting period of {SPEC} months is over. Until then, surgery for fistula, piles "
        "or fissure is not covered.")
    add("specific_illnesses", "Is kidney stone removal covered?",
        f"Yes, after the {SPEC}-month waiting period for stones. Lithotripsy is covered as a day-care procedure, "
        "so you do not need a 24-hour stay.")
    add("specific_illnesses", "My ultrasound showed gallstones a month before I bought the policy. When will surgery be covered?",
        "Because the gallstones were found before the policy started, they are pre-existing as well as being on "
        f"the specific list. The longer wait applies: {PED['Silver']} months on Silver or Gold Plus, or "
        f"{PED['Platinum']} months on Platinum.")
    add("specific_illnesses", "Is sinus surgery covered in the first two years?",
        f"No. Sinusitis and other non-cancerous ear, nose and throat disorders have a {SPEC}-month waiting period.")
    add("specific_illnesses", "Is tonsil removal covered for my child?",
        f"Yes, after the {SPEC}-month waiting period for tonsillitis, which counts from the date your child was "
        "added to the policy. Tonsillectomy is covered as a day-care procedure.")
    add("specific_illnesses", "When can I get knee replacement surgery under the policy?",
        f"Knee and hip replacement have a {SPEC}-month waiting period, unless the replacement is needed because of "
        "an accident. If your knee condition was pre-existing, the longer pre-existing disease waiting period "
        "applies.")
    add("specific_illnesses", "Are varicose veins covered?",
        f"Yes, treatment for varicose veins of the legs is covered after a specific waiting period of {SPEC} months.")
    add("specific_illnesses", "Is hysterectomy covered?",
        f"A hysterectomy for a non-cancerous condition is covered after the {SPEC}-month waiting period. If it "
        f"is needed because of cancer, it is covered after the initial {INIT} days, unless the cancer was "
        "pre-existing.")
    add("specific_illnesses", "Is removal of uterine fibroids covered in the first year?",
        f"No. Removal of uterine fibroids for a non-cancerous condition has a {SPEC}-month waiting period.")
    add("specific_illnesses", "Is hospitalisation for gout covered?",
        f"Yes, after the specific waiting period of {SPEC} months. Gout, osteoarthritis and osteoporosis are all "
        "on the specific illness list.")
    add("specific_illnesses", "Is removal of a breast lump covered?",
        f"A non-cancerous lump or cyst is covered after the {SPEC}-month waiting period. If the lump turns out to "
        f"be cancerous, treatment is covered after the initial {INIT} days, unless it was pre-existing.")
    add("specific_illnesses", "Does the two-year waiting list apply if the illness was not pre-existing?",
        f"Yes. The {SPEC}-month waiting period for specific illnesses applies to everyone, whether or not the "
        "condition existed before the policy.")
    add("specific_illnesses", "Is the waiting period for specific illnesses different on Platinum?",
        f"No. The specific illness waiting period is {SPEC} months on all three plans.")

    # --- maternity ------------------------------------------------------------
    add("maternity", "Does Silver cover maternity?",
        "No. Silver does not cover maternity expenses. Maternity cover is available on Gold Plus and Platinum.")
    add("maternity", "What's the maternity limit on Gold Plus?",
        f"Gold Plus pays up to {inr(G['maternity_rs'])} per delivery, after a {MATW}-month waiting period.")
    add("maternity", "How much does Platinum pay for a delivery?",
        f"Platinum pays up to {inr(P['maternity_rs'])} per delivery, once the {MATW}-month waiting period is over.")
    add("maternity", "Is a C-section covered?",
        "Yes. Caesarean and normal deliveries are both covered within the same maternity limit on Gold Plus and "
        "Platinum.")
    add("maternity", "How many deliveries are covered?",
        f"Maternity cover pays for up to {W['max_deliveries']} deliveries over the lifetime of the policy.")
    add("maternity", "My wife is already pregnant. Can we buy now and claim for the delivery?",
        f"No. Maternity has a {MATW}-month waiting period, so a delivery during the first two years of the policy "
        "is not covered.")
    add("maternity", "Are pre-natal check-ups covered?",
        "Outpatient pre-natal check-ups are not part of the maternity benefit. On Platinum, consultations with a "
        f"registered allopathic doctor can be claimed under the OPD benefit of {inr(P['opd_rs'])} per policy year.")
    add("maternity", "Is my baby covered after birth?",
        "Yes. If the mother's maternity cover is active, the newborn is covered from birth until the end of that "
        "policy year, within the family's sum insured. Add the baby as a member at renewal to continue the cover.")
    add("maternity", "Is an ectopic pregnancy covered under maternity?",
        "An ectopic pregnancy is treated as an illness, not as maternity. It is covered under the sum insured "
        f"after the initial {INIT}-day waiting period, on all plans.")
    add("maternity", "Is medical termination of pregnancy covered?",
        f"A lawful termination advised on medical grounds is covered within the maternity limit once the "
        f"{MATW}-month waiting period is over. Voluntary termination that is not medically necessary is excluded.")
    add("maternity", "If I upgrade from Silver to Gold Plus, when does maternity start?",
        f"Maternity is a new benefit for you, so its {MATW}-month waiting period starts from the date you move "
        "to Gold Plus.")
    add("maternity", "Does the maternity limit include hospital charges for the delivery?",
        "Yes. The maternity limit covers the hospital expenses of the delivery, including any pre-natal and "
        "post-natal hospitalisation, so these are not paid on top of the limit.")
    add("maternity", "can I claim maternity on platinum in my second year",
        f"Maternity on Platinum is covered after a {MATW}-month waiting period, so a delivery in the second "
        "policy year is not covered. It becomes claimable from the third year of continuous cover.")
    add("maternity", "Is the maternity limit separate from my sum insured?",
        "No. Maternity expenses are paid from your sum insured, up to the maternity limit of your plan.")

    # --- pre- and post-hospitalisation ------------------------------------
    add("pre_post_hospitalisation", "What are pre-hospitalisation expenses?",
        "They are medical expenses, such as consultations, tests and medicines, for the same condition in the "
        "days before you are admitted. They are paid only if the hospitalisation claim itself is admissible.")
    add("pre_post_hospitalisation", "How many days of pre-hospitalisation does Silver cover?",
        f"Silver covers pre-hospitalisation expenses for {S['pre_hosp_days']} days before admission and "
        f"post-hospitalisation expenses for {S['post_hosp_days']} days after discharge.")
    add("pre_post_hospitalisation", "On Gold Plus, how long after discharge are medicines covered?",
        f"Gold Plus covers post-hospitalisation expenses for {G['post_hosp_days']} days after discharge, and "
        f"pre-hospitalisation expenses for {G['pre_hosp_days']} days before admission.")
    add("pre_post_hospitalisation", "What is the post-hospitalisation period on Platinum?",
        f"Platinum covers post-hospitalisation expenses for {P['post_hosp_days']} days after discharge and "
        f"pre-hospitalisation expenses for {P['pre_hosp_days']} days before admission.")
    add("pre_post_hospitalisation", "Are physiotherapy sessions after surgery covered?",
        "Yes, if your treating doctor prescribes them for the same condition and they fall within your plan's "
        f"post-hospitalisation period: {S['post_hosp_days']} days on Silver, {G['post_hosp_days']} days on Gold "
        f"Plus and {P['post_hosp_days']} days on Platinum.")
    add("pre_post_hospitalisation", "My tests were done before admission, but I was never admitted. Can I claim them?",
        "No. Pre-hospitalisation expenses are payable only when there is an admissible hospitalisation claim for "
        "the same condition.")
    add("pre_post_hospitalisation", "How do I claim post-hospitalisation bills after a cashless stay?",
        "Submit them as a reimbursement claim with the bills, prescriptions and reports. Send them within "
        f"{C['post_hosp_docs_days']} days after your post-hospitalisation period ends.")
    add("pre_post_hospitalisation", "Do pre- and post-hospitalisation bills have to be from the same hospital?",
        "No. They can be from any doctor, pharmacy or diagnostic centre, as long as they relate to the condition "
        "for which you were hospitalised and are supported by prescriptions.")
    add("pre_post_hospitalisation", "Are pre and post hospitalisation covered for day-care procedures too?",
        "Yes. Pre- and post-hospitalisation expenses are covered for day-care procedures in the same way as for a "
        "regular hospital stay.")
    add("pre_post_hospitalisation", "how many days before admission are bills covered on gold plus",
        f"On Gold Plus, medical expenses for the same condition are covered for {G['pre_hosp_days']} days before "
        "admission.")

    # --- room rent -----------------------------------------------------------
    add("room_rent", "What is the room rent limit on Silver?",
        f"On Silver, room rent is covered up to {S['room_rent_pct']}% of the sum insured per day, and ICU charges "
        f"up to {S['icu_pct']}% per day. For a {lakh(5)} policy, that is {inr(E['silver_5_room_rs'])} a day for "
        f"a room and {inr(E['silver_5_icu_rs'])} a day for the ICU.")
    add("room_rent", "I have Silver with 3 lakh cover. How much room rent can I claim per day?",
        f"With a {lakh(3)} sum insured, you can claim room rent of up to {inr(E['silver_3_room_rs'])} a day, "
        f"and ICU charges of up to {inr(E['silver_3_icu_rs'])} a day.")
    add("room_rent", "Which room can I take under Gold Plus?",
        "Gold Plus covers a single private air-conditioned room. ICU charges are paid in full, with no daily cap.")
    add("room_rent", "Is there any room rent cap on Platinum?",
        "No. Platinum covers any room category, and there is no limit on room or ICU rent.")
    add("room_rent", "What happens if I take a room more expensive than my plan allows?",
        "You pay the difference in room rent, and other expenses linked to the room, such as doctor's fees, "
        "nursing and operation theatre charges, are reduced in the same proportion. For example, on a "
        f"{lakh(5)} Silver policy with a {inr(E['pd_eligible_rs'])} limit, a {inr(E['pd_room_rs'])} room means "
        "only two-thirds of those linked expenses are paid.")
    add("room_rent", "Can you explain proportionate deduction with an example?",
        f"Say you have Silver with {lakh(5)}, so your room limit is {inr(E['pd_eligible_rs'])} a day, but you "
        f"stay in a {inr(E['pd_room_rs'])} room. If linked charges such as doctor's fees and nursing come to "
        f"{inr(E['pd_associated_rs'])}, we pay {inr(E['pd_payable_rs'])}, the same ratio as "
        f"{inr(E['pd_eligible_rs'])} to {inr(E['pd_room_rs'])}. Medicines, consumables, implants and diagnostic "
        "tests are not reduced.")
    add("room_rent", "Which charges are not cut under proportionate deduction?",
        "Medicines, consumables, implants and diagnostic tests are not reduced proportionately. Only charges "
        "linked to the room category, such as doctor's fees, nursing and operation theatre charges, are reduced.")
    add("room_rent", "Is ICU covered in full on Gold Plus?",
        "Yes. Gold Plus pays ICU charges in full, with no daily limit.")
    add("room_rent", "Does proportionate deduction apply on Gold Plus if I take a suite?",
        "Yes. Gold Plus covers a single private air-conditioned room. If you choose a higher category, such as a "
        "suite, you pay the extra room rent, and linked charges are reduced in proportion.")
    add("room_rent", "does platinum have proportionate deduction",
        "No. Because Platinum has no room rent limit, proportionate deduction never applies on that plan.")
    add("room_rent", "What is the ICU limit on Silver?",
        f"ICU charges are covered up to {S['icu_pct']}% of the sum insured per day on Silver, which is "
        f"{inr(E['silver_3_icu_rs'])} a day on {lakh(3)} and {inr(E['silver_5_icu_rs'])} a day on {lakh(5)}.")
    add("room_rent", "Can I stay in a shared room to avoid deductions on Silver?",
        f"Yes. Any room whose daily rent is within {S['room_rent_pct']}% of your sum insured avoids proportionate "
        "deduction, and a shared room usually falls within that limit.")

    # --- co-payment ------------------------------------------------------------
    add("co_payment", "Is there any co-payment in this policy?",
        f"Only for people who join at age {COPAY_AGE} or above. They pay {S['senior_copay_pct']}% of every "
        f"admissible claim on Silver and Gold Plus, and {P['senior_copay_pct']}% on Platinum. There is no "
        "co-payment for people who join younger.")
    add("co_payment", "My mother joined Gold Plus at 63. How much of a Rs. 1,00,000 claim will we pay?",
        f"Because she joined at {COPAY_AGE} or above, a {G['senior_copay_pct']}% co-payment applies. On an "
        f"admissible claim of {inr(E['copay_claim_rs'])}, you pay {inr(E['copay_20_share_rs'])} and we pay "
        f"{inr(E['copay_20_paid_rs'])}.")
    add("co_payment", "Will I have to pay co-payment when I turn 61?",
        "No. The co-payment depends on your age when you first join the policy. If you joined younger and keep "
        "renewing, it does not apply later.")
    add("co_payment", "What is the senior citizen co-payment on Platinum?",
        f"It is {P['senior_copay_pct']}% of each admissible claim, for people who join at age {COPAY_AGE} or "
        f"above. On a {inr(E['copay_claim_rs'])} claim, that is {inr(E['copay_10_share_rs'])}.")
    add("co_payment", "Does the co-payment apply to cashless claims as well?",
        "Yes. On a cashless claim, the co-payment is deducted from the approved amount and you pay it to the "
        "hospital at discharge.")
    add("co_payment", "what does co-pay mean",
        "Co-payment is a fixed percentage of each admissible claim that you pay yourself, with the insurer paying "
        f"the rest. In this policy it applies only to people who join at age {COPAY_AGE} or above.")
    add("co_payment", "Is co-payment worked out on the full hospital bill?",
        "No. It is applied to the admissible claim amount, after non-payable items and any other deductions under "
        "the policy have been removed.")
    add("co_payment", "My parents are 62 and 64. Which plan has the lowest co-payment for them?",
        f"Platinum, which has a {P['senior_copay_pct']}% co-payment for people joining at {COPAY_AGE} or above. "
        f"Silver and Gold Plus have a {S['senior_copay_pct']}% co-payment for them.")
    add("co_payment", "Is there co-payment on the Silver plan for a 40-year-old?",
        f"No. On every plan, co-payment applies only to people who join at age {COPAY_AGE} or above.")

    # --- ambulance -----------------------------------------------------------
    add("ambulance", "Is ambulance cost covered?",
        f"Yes. Road ambulance charges are covered up to {inr(S['ambulance_rs'])} per hospitalisation on Silver, "
        f"{inr(G['ambulance_rs'])} on Gold Plus and {inr(P['ambulance_rs'])} on Platinum.")
    add("ambulance", "Does Platinum cover air ambulance?",
        f"Yes. Platinum covers air ambulance transport up to {inr(P['air_ambulance_rs'])} per policy year, when a "
        "life-threatening emergency needs an urgent transfer that road transport cannot manage in time. Silver "
        "and Gold Plus do not cover air ambulance.")
    add("ambulance", "What is the ambulance limit on Gold Plus?",
        f"{inr(G['ambulance_rs'])} per hospitalisation, for a road ambulance.")
    add("ambulance", "How much ambulance cover does Silver have?",
        f"Silver pays up to {inr(S['ambulance_rs'])} per hospitalisation for a road ambulance.")
    add("ambulance", "Is an ambulance covered if I'm taken to the hospital but not admitted?",
        "No. Ambulance charges are paid only when the hospitalisation that follows is covered under the policy.")
    add("ambulance", "Will you pay for an ambulance to take me home after discharge?",
        "No. Ambulance cover is for getting you to hospital in an emergency, or moving you to another hospital for "
        "better treatment, not for going home after discharge.")
    add("ambulance", "Does the ambulance need to be from a network provider?",
        "No. Any registered ambulance service is fine. Keep the receipt and claim it along with your "
        "hospitalisation claim.")
    add("ambulance", "Is transfer between hospitals covered?",
        "Yes, when the treating doctor advises a transfer to another hospital for better care. It is paid within "
        "your plan's ambulance limit per hospitalisation.")

    # --- day care --------------------------------------------------------------
    add("day_care", "What is a day-care procedure?",
        f"A day-care procedure is a treatment or surgery that needs less than {POLICY['min_hospitalisation_hours']} "
        "hours in hospital because of modern technology, such as cataract surgery or chemotherapy. These are "
        "covered even though you are not admitted for a full day.")
    add("day_care", "How many day-care procedures are covered?",
        f"{POLICY['day_care_count'].capitalize()} day-care procedures are covered under all three plans, up to "
        "the sum insured.")
    add("day_care", "Is chemotherapy covered if I am not admitted overnight?",
        "Yes. Chemotherapy is a day-care procedure, so it is covered even when you go home the same day.")
    add("day_care", "Is dialysis covered?",
        "Yes. Haemodialysis is covered as a day-care procedure, up to your sum insured.")
    add("day_care", "Is OPD the same as day care?",
        "No. Day care means a listed procedure done in a hospital or day-care centre in less than a day. OPD means "
        f"consultations and treatment without admission, which is covered only on Platinum, up to "
        f"{inr(P['opd_rs'])} a year.")
    add("day_care", "Can I get cashless treatment for a day-care procedure?",
        "Yes. Day-care procedures at network hospitals can be done cashless, with the same pre-authorisation "
        "process as a regular admission.")
    add("day_care", "Where can I see the list of day-care procedures?",
        f"The full list is on {WEB} and in the {APP}, and the helpline can confirm whether a particular procedure "
        "is on it.")
    add("day_care", "Is radiotherapy covered?",
        "Yes. Radiotherapy is covered as a day-care procedure under all plans, up to the sum insured.")
    add("day_care", "Will the policy pay for lithotripsy for kidney stones if I go home the same day?",
        f"Yes, as a day-care procedure, but only after the {SPEC}-month waiting period for stones has been "
        "completed.")
    add("day_care", "Is a D&C procedure covered?",
        "Yes. Dilatation and curettage (D&C) is on the day-care list, so it is covered without a full-day stay.")
    add("day_care", "Is coronary angiography covered?",
        "Yes. Coronary angiography is covered as a day-care procedure.")
    add("day_care", "Is arthroscopic knee surgery covered without 24 hours of admission?",
        f"Yes. Arthroscopic knee surgery is a listed day-care procedure. Knee replacement is a different procedure, "
        f"with its own {SPEC}-month waiting period.")
    add("day_care", "My son swallowed a coin and it was removed by endoscopy. Is that covered?",
        "Yes. Endoscopic removal of a swallowed foreign body is a day-care procedure, and as an accident it is "
        "covered from the first day of the policy.")
    add("day_care", "Is cataract surgery a day-care procedure?",
        f"Yes, it is done as a day-care procedure. It is covered after the {SPEC}-month waiting period for "
        "cataract, within your plan's cataract limit.")

    # --- AYUSH -----------------------------------------------------------------
    add("ayush", "Is Ayurvedic treatment covered?",
        f"Yes, inpatient Ayurvedic treatment is covered when you are admitted for at least "
        f"{POLICY['min_hospitalisation_hours']} hours to a government-recognised AYUSH hospital. Silver pays up to "
        f"{inr(S['ayush_rs'])} per policy year; Gold Plus and Platinum pay up to the sum insured.")
    add("ayush", "What does AYUSH stand for?",
        f"AYUSH covers {join_words(AYUSH_SYSTEMS)}. Inpatient treatment under any of these systems is covered at a "
        "government-recognised AYUSH hospital.")
    add("ayush", "Is homeopathy covered if I only visit the clinic?",
        "No. Only inpatient AYUSH treatment is covered. Outpatient homeopathy consultations and medicines are not "
        "covered on any plan.")
    add("ayush", "What is the AYUSH limit on Silver?",
        f"Silver covers inpatient AYUSH treatment up to {inr(S['ayush_rs'])} per policy year.")
    add("ayush", "Can I claim a Panchakarma package at a wellness resort?",
        "No. Rejuvenation and spa therapies are excluded, and AYUSH cover applies only to medically necessary "
        "inpatient treatment in a government-recognised AYUSH hospital.")
    add("ayush", "Does Gold Plus limit AYUSH treatment?",
        "No. Gold Plus covers inpatient AYUSH treatment up to the full sum insured.")
    add("ayush", "Is cashless available for AYUSH hospitalisation?",
        "Yes, if the AYUSH hospital is one of our network hospitals. Otherwise, pay the hospital and file a "
        "reimbursement claim.")
    add("ayush", "Is Siddha treatment covered on Platinum?",
        "Yes. Inpatient Siddha treatment at a government-recognised AYUSH hospital is covered on Platinum up to "
        "the sum insured.")

    # --- domiciliary -----------------------------------------------------------
    add("domiciliary", "What is domiciliary hospitalisation?",
        "It is treatment at home for an illness that would normally need hospitalisation, when the patient cannot "
        "be moved to hospital or no hospital bed is available. The treatment must continue for more than "
        f"{DOMICILIARY['min_days']} consecutive days.")
    add("domiciliary", "Does Silver cover treatment at home?",
        f"No. Domiciliary hospitalisation is covered only on Gold Plus and Platinum, up to "
        f"{G['domiciliary_pct']}% of the sum insured.")
    add("domiciliary", "How much can I claim for home treatment on Gold Plus?",
        f"Up to {G['domiciliary_pct']}% of the sum insured per policy year; for example, {inr(E['dom_gp5_rs'])} "
        f"on a {lakh(5)} policy.")
    add("domiciliary", "My father is bedridden and his doctor is treating him at home. Can we claim?",
        "On Gold Plus or Platinum, yes, if the doctor certifies that he cannot be moved to hospital and the "
        f"treatment lasts more than {DOMICILIARY['min_days']} consecutive days. The claim is paid up to "
        f"{G['domiciliary_pct']}% of the sum insured. Silver does not cover home treatment.")

    # --- modern treatments -----------------------------------------------------
    add("modern_treatments", "Is robotic surgery covered?",
        f"Yes. Robotic surgery is one of the modern treatments covered under all plans, up to {MOD}% of the sum "
        "insured per policy year.")
    add("modern_treatments", "What modern treatments are covered?",
        f"The policy covers {join_words(MODERN_TREATMENTS)}. They are paid up to {MOD}% of the sum insured per "
        "policy year on every plan.")
    add("modern_treatments", "Is immunotherapy for cancer covered?",
        f"Yes. Immunotherapy with monoclonal antibody injections is covered up to {MOD}% of the sum insured per "
        "policy year.")
    add("modern_treatments", "Is there a limit on oral chemotherapy?",
        f"Oral chemotherapy is covered as a modern treatment, up to {MOD}% of the sum insured per policy year. On "
        f"a {lakh(10)} Gold Plus policy, that is {inr(E['modern_gp10_rs'])}.")
    add("modern_treatments", "Are eye injections for macular degeneration covered?",
        f"Yes. Intra-vitreal injections are covered as a modern treatment, up to {MOD}% of the sum insured per "
        "policy year.")

    # --- organ donor, mental health --------------------------------------------
    add("organ_donor", "Are organ donor expenses covered?",
        "Yes. If you need an organ transplant, the hospital expenses of harvesting the organ from the donor are "
        "covered up to your sum insured on all plans. The donor's pre- and post-hospitalisation expenses are not "
        "covered.")
    add("organ_donor", "My brother is donating a kidney to me. Are his hospital costs covered?",
        "Yes. His hospitalisation for harvesting the kidney is covered under your policy, within your sum insured. "
        "His costs before and after that hospital stay are not covered.")
    add("organ_donor", "Is an organ transplant covered on Silver?",
        "Yes. Transplant surgery and the donor's harvesting expenses are covered on Silver, as on the other plans, "
        "up to the sum insured.")
    add("mental_health", "Is treatment for mental illness covered?",
        "Yes. Inpatient treatment for mental illness is covered up to the sum insured on all plans, in the same "
        "way as physical illness. Treatment for alcohol or drug abuse is excluded.")
    add("mental_health", "Is hospitalisation for depression covered?",
        "Yes, when the admission is medically necessary and advised by a psychiatrist. It is covered up to the "
        "sum insured, subject to the usual waiting periods.")
    add("mental_health", "Are sessions with a counsellor covered?",
        "Outpatient counselling is not covered on Silver or Gold Plus. On Platinum, the OPD benefit of "
        f"{inr(P['opd_rs'])} per policy year covers consultations with registered allopathic doctors, such as a "
        "psychiatrist, but not sessions with a counsellor who is not a doctor.")

    # --- exclusions ------------------------------------------------------------
    add("exclusions", "What is not covered by the policy?",
        "The main exclusions are cosmetic surgery, dental treatment unless it follows an accident, spectacles and "
        "hearing aids, self-injury and substance abuse, adventure sports injuries, infertility treatment, "
        "obesity treatment, unproven treatments and treatment outside India. The full list is in the Exclusions "
        "section of the policy wording.")
    add("exclusions", "Is cosmetic surgery covered?",
        "No, unless it is reconstructive surgery needed because of an accident, burns or cancer.")
    add("exclusions", "Will the policy pay for a nose job?",
        "No. Cosmetic procedures done to change appearance are excluded. Reconstructive surgery after an accident, "
        "burns or cancer is covered.")
    add("exclusions", "Is dental treatment covered?",
        "Only when it needs hospitalisation because of an accident. Routine dental work such as fillings, root "
        "canals or braces is not covered.")
    add("exclusions", "Are spectacles or contact lenses covered?",
        "No. Spectacles, contact lenses, hearing aids and walking aids are excluded on all plans.")
    add("exclusions", "Is IVF covered?",
        "No. Infertility treatment and assisted reproduction, including IVF, are excluded.")
    add("exclusions", "Will you cover bariatric surgery?",
        "No. Treatment for obesity or weight control, including bariatric surgery, is excluded.")
    add("exclusions", "I got injured while paragliding. Is that covered?",
        "No. Injuries from hazardous or adventure sports, such as paragliding, scuba diving or motor racing, are "
        "excluded.")
    add("exclusions", "Is treatment for alcohol addiction covered?",
        "No. Treatment for alcohol or drug abuse is excluded, as is intentional self-injury.")
    add("exclusions", "Can I claim for treatment I took in Dubai?",
        "No. The policy covers only treatment taken in India.")
    add("exclusions", "Are vitamins and supplements covered?",
        "Only when they are prescribed as part of treatment during a covered hospitalisation. Otherwise, vitamins, "
        "tonics and supplements are excluded.")
    add("exclusions", "Is an admission just for tests covered?",
        "No. If you are admitted only for investigations or evaluation and receive no active treatment, the "
        "admission is not covered.")
    add("exclusions", "Are birth defects covered?",
        "Internal congenital conditions are covered, subject to the pre-existing disease rules if they were known "
        "before the policy started. External congenital anomalies, meaning visible birth defects, are excluded.")
    add("exclusions", "Are experimental treatments covered?",
        "No. Unproven or experimental treatments are excluded. Approved modern treatments, such as robotic "
        f"surgery, are covered up to {MOD}% of the sum insured.")
    add("exclusions", "Is a stay at a rehabilitation centre covered?",
        "No. Rest cures, rehabilitation, respite care and spa or rejuvenation therapy are excluded.")
    add("exclusions", "Will you pay if I was injured while committing a crime?",
        "No. Injury or illness caused by committing or attempting a breach of law with criminal intent is excluded.")
    add("exclusions", "What are non-payable items?",
        f"They are items such as {join_words(NON_PAYABLE_EXAMPLES)} that hospitals bill but standard health "
        "policies do not pay for. Silver and Gold Plus do not pay for them, so you settle them at discharge; "
        "Platinum covers them.")
    add("exclusions", "Is sex reassignment surgery covered?",
        "No. Sex-change treatment is excluded.")
    add("exclusions", "Are there hospitals where my claim won't be paid?",
        "Yes. Our website lists the hospitals that we have excluded because of fraud. Treatment at these "
        "hospitals is not paid for, except in a life-threatening emergency.")
    add("exclusions", "Are injuries from a terrorist attack covered?",
        "Injuries from war or invasion are excluded, as are nuclear, chemical or biological events linked to "
        "terrorism. Other injuries from a terrorist attack are treated like any other accident.")
    add("exclusions", "Is a hearing aid covered after ear surgery?",
        "No. Hearing aids are excluded, even after a covered ear surgery. The surgery itself is covered, subject "
        "to the waiting periods.")
    add("exclusions", "Are self-inflicted injuries covered?",
        "No. Intentional self-injury is excluded on all plans.")

    # --- cashless claims ---------------------------------------------------------
    add("cashless_claims", "How do I get cashless treatment?",
        "Go to a network hospital and show your e-card and a government photo ID at the TPA or insurance desk. "
        f"The hospital sends a pre-authorisation request to {TPA}, and once it is approved, we settle the covered "
        "bill directly with the hospital.")
    add("cashless_claims", "How early should I inform you about a planned surgery?",
        f"For a planned admission, the hospital should send the pre-authorisation request at least "
        f"{C['planned_preauth_hours']} hours before you are admitted.")
    add("cashless_claims", "I was admitted in an emergency. When do I need to tell you?",
        f"For an emergency admission, the hospital must send the cashless request within "
        f"{C['emergency_intimation_hours']} hours of admission. You or a family member can also call "
        f"{CL_TEL}, which is open {I['claims_hours']}.")
    add("cashless_claims", "How long does cashless approval take?",
        f"We decide on a complete pre-authorisation request within {C['preauth_decision_hours']} hour. The final "
        f"approval at discharge is given within {C['discharge_auth_hours']} hours of receiving the final bill "
        "from the hospital.")
    add("cashless_claims", "What should I carry to the hospital for a cashless admission?",
        f"Carry your Nilgiri Health e-card, printed or in the {APP}, and a government photo ID such as an "
        "Aadhaar card, PAN card or passport.")
    add("cashless_claims", "Can I get cashless treatment at any hospital?",
        f"No. Cashless treatment is available only at our network hospitals, of which there are "
        f"{I['network_hospitals']} across India. At other hospitals you pay first and claim reimbursement.")
    add("cashless_claims", "What if my cashless request is rejected?",
        "A denial of cashless is not a rejection of your claim. You can pay the hospital and then submit a "
        "reimbursement claim with all the documents, which will be assessed on its merits.")
    add("cashless_claims", "Will I have to pay anything at discharge on a cashless claim?",
        "You may need to pay for non-payable items, any co-payment, amounts above your plan's limits and, if you "
        "took a costlier room than allowed, the room rent difference and proportionate deductions. Everything else "
        "that is covered is settled directly with the hospital.")
    add("cashless_claims", "The hospital bill is more than the amount approved. What happens?",
        "The hospital sends an enhancement request with updated details, and the final bill is approved within "
        f"{C['discharge_auth_hours']} hours of us receiving it. Approvals can never exceed your available sum "
        "insured.")
    add("cashless_claims", "Where can I find my e-card?",
        f"Your e-card is in the {APP} and is also emailed to you when the policy is issued. For another copy, "
        f"email {CARE} or call {SV_TEL}.")
    add("cashless_claims", "How do I find a network hospital near me?",
        f"Use the hospital search on {WEB} or in the {APP}, or call our claims helpline on {CL_TEL}.")
    add("cashless_claims", "My planned surgery is tomorrow and I haven't informed anyone. Can I still get cashless?",
        "Ask the hospital to send the pre-authorisation request right away. Planned admissions should be notified "
        f"at least {C['planned_preauth_hours']} hours in advance, so a late request may take longer, but it will "
        "still be considered. If cashless is not approved in time, you can pay and claim reimbursement.")
    add("cashless_claims", "Who fills in the pre-authorisation form?",
        "The hospital's TPA or insurance desk fills it in with details from your treating doctor, and you sign it. "
        "The hospital then sends it to the TPA with your e-card and ID details.")
    add("cashless_claims", "Can I get cashless at a hospital in another city?",
        "Yes. Cashless treatment is available at any of our network hospitals, anywhere in India.")
    add("cashless_claims", "is cashless available at night",
        f"Yes. Cashless requests are processed round the clock, and the claims helpline {CL_TEL} is open "
        f"{I['claims_hours']}.")
    add("cashless_claims", "What is pre-authorisation?",
        "Pre-authorisation is the approval the hospital requests from us before or during your admission, so that "
        "covered expenses can be settled directly with the hospital. Without it, cashless treatment is not possible.")

    # --- reimbursement claims -----------------------------------------------------
    add("reimbursement_claims", "How do I file a reimbursement claim?",
        f"Inform us within {C['reimb_intimation_hours']} hours of an emergency admission, or before a planned one. "
        f"After discharge, pay the hospital and send the claim form and documents within {C['reimb_docs_days']} "
        f"days through the {APP}, by email to {CLAIMS_EMAIL}, or by courier to our claims department.")
    add("reimbursement_claims", "What's the deadline to submit my reimbursement documents?",
        f"Submit all documents within {C['reimb_docs_days']} days of discharge. Bills for post-hospitalisation "
        f"treatment can be sent within {C['post_hosp_docs_days']} days after the post-hospitalisation period ends.")
    add("reimbursement_claims", "When should I intimate a reimbursement claim?",
        f"Within {C['reimb_intimation_hours']} hours of admission in an emergency; for a planned admission, "
        f"before you are admitted. Call {CL_TEL} or email {CLAIMS_EMAIL}.")
    add("reimbursement_claims", "How long does it take to settle a reimbursement claim?",
        f"We settle claims within {C['settlement_days']} days of receiving the last necessary document. If the "
        f"claim needs an investigation, we complete it and settle within {C['investigation_days']} days.")
    add("reimbursement_claims", "What if you take longer than allowed to pay my claim?",
        f"If we delay payment beyond the allowed time, we pay interest at {C['interest_above_bank_rate_pct']}% "
        "above the bank rate for the period of the delay.")
    add("reimbursement_claims", "How will I receive the claim money?",
        "We pay by NEFT directly into the proposer's bank account, so include a cancelled cheque or your bank "
        "details with the claim.")
    add("reimbursement_claims", "I missed the 30-day deadline for submitting documents. Is my claim lost?",
        "Not necessarily. Send the documents as soon as possible with a written explanation for the delay. We "
        "consider late submissions where the delay was due to genuine reasons.")
    add("reimbursement_claims", "Where do I send physical claim documents?",
        f"Courier them to {I['claims_address']}.")
    add("reimbursement_claims", "Can I submit my claim online?",
        f"Yes. Upload scanned documents in the {APP} or email them to {CLAIMS_EMAIL}. Keep the originals safe, "
        "as we may ask for them during assessment.")
    add("reimbursement_claims", "I was treated at a non-network hospital. Can I still claim?",
        f"Yes. Pay the hospital yourself and file a reimbursement claim with all the documents within "
        f"{C['reimb_docs_days']} days of discharge.")
    add("reimbursement_claims", "Can I track my claim status?",
        f"Yes. Track it in the {APP}, or call {CL_TEL} with your claim number.")
    add("reimbursement_claims", "What if my claim is only partly paid?",
        "The settlement letter lists each deduction and the reason for it, such as non-payable items, "
        "co-payment or limits under your plan. If you disagree, you can write to us or use the grievance process.")
    add("reimbursement_claims", "Can I claim reimbursement even at a network hospital?",
        "Yes. If you choose not to use cashless, or cashless is not approved, you can pay the network hospital "
        "and claim reimbursement in the usual way.")

    # --- claim documents ---------------------------------------------------------
    add("claim_documents", "What documents do I need for a reimbursement claim?",
        f"You need {semi_list(CLAIM_DOCUMENTS)}.")
    add("claim_documents", "What extra document is needed for an accident claim?",
        f"For an accident, also submit {ACCIDENT_DOCUMENTS}, if one was prepared.")
    add("claim_documents", "Do I need to send the original bills?",
        "You can upload clear scans through the app or by email. Keep the originals safe, because we may ask for "
        "them during assessment.")
    add("claim_documents", "Is a discharge summary required?",
        "Yes. The original discharge summary is essential, as it records the diagnosis, the treatment and the dates "
        "of your stay.")
    add("claim_documents", "Do I need to submit pharmacy bills separately?",
        "Yes. Include the pharmacy bills with the prescriptions from your treating doctor, so that each medicine "
        "can be matched to the treatment.")
    add("claim_documents", "Why do you need my PAN card for a claim?",
        "A copy of your photo ID and PAN card is part of the KYC we need before paying a claim. Include them with "
        "your claim documents.")
    add("claim_documents", "Is a doctor's note needed?",
        "Yes. Submit the treating doctor's note advising admission, which shows that hospitalisation was "
        "medically necessary.")
    add("claim_documents", "What documents are needed to claim post-hospitalisation expenses?",
        "Send the bills, prescriptions and reports for the treatment after discharge, along with your claim "
        f"number, within {C['post_hosp_docs_days']} days after the post-hospitalisation period ends.")
    add("claim_documents", "Do I need an FIR for a road accident claim?",
        f"Yes, if one was registered. Submit {ACCIDENT_DOCUMENTS} with your other claim documents.")

    # --- free look -------------------------------------------------------------
    add("free_look", "What is the free-look period?",
        f"You get {FL} days from the date you receive your policy document to review it. If you are not "
        "satisfied, you can cancel it within that time and get a refund.")
    add("free_look", "How much refund do I get if I cancel during the free-look period?",
        "We refund the premium after deducting a proportionate premium for the days you were covered, stamp duty, "
        "and the cost of any pre-policy medical check-up.")
    add("free_look", "Does the free-look period apply when I renew?",
        "No. The free-look period applies only to a new policy, not to renewals.")
    add("free_look", "Can I use the free-look option if I have already made a claim?",
        "No. Free-look cancellation is not available once a claim has been made under the policy.")
    add("free_look", "How do I cancel my policy in the free-look period?",
        f"Send a written request by email to {CARE} or through the {APP}, within {FL} days of receiving the policy "
        "document.")
    add("free_look", "i bought the policy three weeks ago and don't want it anymore",
        f"You are still within the {FL}-day free-look period. Send us a cancellation request and we will refund "
        "the premium after deducting the proportionate premium for the days you were covered, stamp duty and any "
        "pre-policy check-up cost.")
    add("free_look", "When does the free-look period start?",
        "It starts on the date you receive the policy document, whether by email or by post.")

    # --- cancellation ------------------------------------------------------------
    tbl = CANCELLATION["table"]
    add("cancellation", "Can I cancel my policy at any time?",
        "Yes. You can cancel by sending us a written request at any time. The refund depends on how long the "
        "policy has been in force, and no refund is payable if a claim has been made in the policy year.")
    add("cancellation", "How much refund will I get if I cancel my policy?",
        f"It depends on how long the policy has run: {tbl[0][1]}% of the premium if you cancel within 30 days, "
        f"{tbl[1][1]}% between 31 and 90 days, {tbl[2][1]}% between 91 and 180 days, and nothing after 180 days. "
        "No refund is due if a claim has been made in that policy year.")
    add("cancellation", "What refund do I get if I cancel two months after the policy started?",
        f"You get {tbl[1][1]}% of the premium back, since the policy has been in force for between 31 and 90 days, "
        "provided no claim has been made.")
    add("cancellation", "If I cancel after five months, how much premium is refunded?",
        f"{tbl[2][1]}% of the premium, because cancellations between 91 and 180 days receive a {tbl[2][1]}% "
        "refund, provided no claim has been made.")
    add("cancellation", "Do I get anything back if I cancel after eight months?",
        "No. There is no refund for cancellations more than 180 days after the policy start date.")
    add("cancellation", "I want to cancel in the first month. What's the refund?",
        f"If you cancel within 30 days of the start date, {tbl[0][1]}% of the premium is refunded, provided no "
        "claim has been made. For a new policy, the free-look refund applies instead if you are still within the "
        "free-look period.")
    add("cancellation", "Is there a refund if I cancel after making a claim?",
        "No. If a claim has been made during the policy year, no premium is refunded on cancellation.")
    add("cancellation", "How long does a cancellation refund take?",
        f"We process the refund within {CANCELLATION['refund_within_days']} days of receiving your cancellation "
        "request.")
    add("cancellation", "Can Nilgiri Health cancel my policy?",
        "Only on grounds of proven fraud, misrepresentation or non-disclosure of material facts. If the policy is "
        "cancelled because of fraud, no premium is refunded.")
    add("cancellation", "Which is better, free-look cancellation or normal cancellation?",
        f"If you have a new policy and are within {FL} days of receiving the document, free-look cancellation is "
        "better, because only the proportionate premium, stamp duty and check-up costs are deducted. After the "
        "free-look period, the cancellation refund table applies.")
    add("cancellation", "How do I cancel my policy?",
        f"Send a written request from your registered email to {CARE}, or raise it in the {APP}. Mention your "
        "policy number and your bank details for the refund.")
    add("cancellation", "If I cancel, will my family members on the floater also lose cover?",
        "Yes. A floater is one policy, so cancelling it ends the cover for everyone on it.")
    add("cancellation", "What is the refund if I cancel after four months and have not claimed?",
        f"{tbl[2][1]}% of the premium, because the policy has been in force for between 91 and 180 days.")

    # --- renewal and grace period -----------------------------------------------
    add("renewal", "Can I renew my policy for life?",
        "Yes. Family Health Shield offers lifelong renewal, with no upper age limit for renewing.")
    add("renewal", "Will you refuse to renew my policy because I made claims?",
        "No. Renewal cannot be refused because of claims. It can be refused only on grounds of fraud, "
        "misrepresentation or non-disclosure.")
    add("renewal", "How do I renew my policy?",
        f"Renew online at {WEB}, in the {APP}, through your agent, or by calling {SV_TEL}. Pay before the expiry "
        "date to avoid any gap in cover.")
    add("renewal", "Do I need a medical test to renew?",
        "No. Renewals do not need medical tests, unless you are asking for a higher sum insured, which is subject "
        "to underwriting.")
    add("renewal", "Can I add benefits at renewal?",
        "Yes. At renewal you can move to a higher plan or increase the sum insured, subject to underwriting. New "
        "benefits and the extra sum insured come with fresh waiting periods.")
    add("renewal", "Will my renewal premium be the same every year?",
        "Not always. It can go up when you move into a higher age band, or if a product-wide revision is approved "
        "by the regulator, but never because of your claims.")
    add("renewal", "What happens if I renew late?",
        "If you pay within the grace period, your policy continues with all benefits and waiting-period credit "
        "intact, though hospitalisation during the gap is not covered. If you miss the grace period, the policy "
        "lapses and you would have to buy a new one.")
    add("grace_period", "What is the grace period for renewal?",
        f"You have {GRACE} days after the due date to pay the renewal premium if you pay annually, half-yearly or "
        f"quarterly. For monthly instalments, the grace period is {GRACE_M} days.")
    add("grace_period", "Am I covered during the grace period?",
        "No. Hospitalisation that begins during the grace period is not covered. However, once you pay within the "
        "grace period, continuity benefits such as waiting-period credit and the no-claim bonus are kept.")
    add("grace_period", "I pay monthly. How many days of grace do I get?",
        f"You get {GRACE_M} days of grace for each monthly instalment.")
    add("grace_period", "What happens if I don't pay within the grace period?",
        "The policy lapses. You lose the waiting-period credit and the no-claim bonus, and a new policy would "
        "start all waiting periods again.")
    add("grace_period", "My policy expired yesterday. Can I still renew?",
        f"Yes. If you pay annually, you are within the {GRACE}-day grace period, so you can renew now without "
        "losing your benefits. Any hospitalisation between the expiry date and the renewal payment is not covered.")
    add("grace_period", "Is the grace period the same for quarterly payments?",
        f"Yes. Quarterly, half-yearly and annual payments all get a {GRACE}-day grace period. Only monthly "
        f"instalments have a shorter one, of {GRACE_M} days.")

    # --- no-claim bonus -----------------------------------------------------------
    add("no_claim_bonus", "What is the no-claim bonus?",
        "It is an increase in your sum insured for every claim-free policy year, at no extra premium. The rate "
        "depends on your plan.")
    add("no_claim_bonus", "How much no-claim bonus does Silver give?",
        f"Silver adds {S['ncb_step_pct']}% of the base sum insured for each claim-free year, up to a maximum of "
        f"{S['ncb_max_pct']}%.")
    add("no_claim_bonus", "What is the NCB on Gold Plus?",
        f"Gold Plus adds {G['ncb_step_pct']}% of the base sum insured for every claim-free year, up to a maximum "
        f"of {G['ncb_max_pct']}%.")
    add("no_claim_bonus", "How fast does the bonus build up on Platinum?",
        f"Platinum adds {P['ncb_step_pct']}% of the base sum insured for each claim-free year, so you reach the "
        f"maximum of {P['ncb_max_pct']}% after two claim-free years.")
    add("no_claim_bonus", "I have Gold Plus with Rs. 10 lakh and no claims for two years. What is my cover now?",
        f"Your cover is {inr(E['ncb_after_2_rs'])}: the base {lakh(E['ncb_base_lakh'])} plus a "
        f"{E['ncb_two_year_pct']}% bonus, earned at {G['ncb_step_pct']}% for each claim-free year.")
    add("no_claim_bonus", "What happens to my bonus if I make a claim?",
        "The bonus is reduced at the next renewal by the same rate at which it is earned, for example by "
        f"{G['ncb_step_pct']}% of the base sum insured on Gold Plus. Your base sum insured itself is never reduced.")
    add("no_claim_bonus", "Does making a claim reduce my base sum insured?",
        "No. A claim can only reduce the accumulated no-claim bonus, never your base sum insured.")
    add("no_claim_bonus", "Does the no-claim bonus increase my premium?",
        "No. The bonus increases your cover without any extra premium.")
    add("no_claim_bonus", "Do I lose my no-claim bonus if I renew in the grace period?",
        "No. Renewing within the grace period keeps your no-claim bonus. It is lost only if the policy lapses.")
    add("no_claim_bonus", "Does a health check-up count as a claim for the bonus?",
        "No. Using the free health check-up on Gold Plus or Platinum does not count as a claim and does not "
        "affect your no-claim bonus.")
    add("no_claim_bonus", "Is the no-claim bonus shared on a floater?",
        "Yes. On a floater, the bonus is added to the family's shared sum insured, and a claim by any member "
        "affects it.")
    add("no_claim_bonus", "how much bonus can I build up in silver max",
        f"The maximum on Silver is {S['ncb_max_pct']}% of the base sum insured, reached after five claim-free "
        f"years at {S['ncb_step_pct']}% a year.")
    add("no_claim_bonus", "What happens to my no-claim bonus when I port to Nilgiri Health?",
        "The bonus you earned with your previous insurer counts as part of your previous sum insured, so "
        "waiting-period credit is given on the base amount plus that bonus.")

    # --- restoration --------------------------------------------------------------
    add("restoration", "What is the restoration benefit?",
        f"On Gold Plus and Platinum, if your sum insured and bonus are used up during a policy year, we restore "
        f"{G['restore_pct']}% of the base sum insured once in that year for later hospitalisations. Silver does "
        "not have this benefit.")
    add("restoration", "Can the restored sum insured be used for the same illness?",
        "It can be used for any later hospitalisation in the same policy year, except one for the same illness "
        "for the same person.")
    add("restoration", "Does unused restoration carry forward to next year?",
        "No. If the restored amount is not used in that policy year, it lapses and does not carry forward.")
    add("restoration", "Is restore available on Silver?",
        "No. Restoration of the sum insured is available only on Gold Plus and Platinum.")
    add("restoration", "How many times can my sum insured be restored in a year?",
        f"Once per policy year, for {G['restore_pct']}% of the base sum insured, on Gold Plus and Platinum.")
    add("restoration", "On a floater, can another family member use the restored amount?",
        "Yes. The restored sum insured can be used by any insured member for a later hospitalisation in that "
        "policy year. The only exception is the same illness for the same person.")

    # --- health check-up, OPD ---------------------------------------------------------
    add("health_checkup", "Do I get a free health check-up?",
        f"Yes, on Gold Plus and Platinum. Gold Plus covers one health check-up every policy year up to "
        f"{inr(G['health_checkup_rs'])}, and Platinum up to {inr(P['health_checkup_rs'])}, at a network "
        "diagnostic centre. Silver does not include it.")
    add("health_checkup", "How do I book my annual health check-up?",
        f"Book it in the {APP} or by calling {SV_TEL}. It is done at a network diagnostic centre.")
    add("health_checkup", "Can I carry forward the health check-up if I don't use it?",
        "No. An unused health check-up does not carry forward to the next policy year.")
    add("health_checkup", "Is the health check-up only available after a claim-free year?",
        "No. It is available every policy year on Gold Plus and Platinum, whether or not you have made a claim.")
    add("health_checkup", "Does Silver include a health check-up?",
        "No. Silver does not include an annual health check-up; it comes with Gold Plus and Platinum.")
    add("health_checkup", "What is the health check-up limit on Platinum?",
        f"Platinum covers one health check-up every policy year, up to {inr(P['health_checkup_rs'])}.")
    add("opd", "Are doctor consultations without hospitalisation covered?",
        "Only on Platinum, which covers outpatient consultations with registered allopathic doctors, prescribed "
        f"diagnostic tests and prescribed medicines up to {inr(P['opd_rs'])} per policy year. Silver and Gold Plus "
        "do not cover OPD expenses.")
    add("opd", "What is the OPD limit on Platinum?",
        f"{inr(P['opd_rs'])} per policy year, for consultations, prescribed tests and prescribed medicines.")
    add("opd", "Does Gold Plus cover OPD?",
        "No. Outpatient expenses are covered only on Platinum.")
    add("opd", "Can I claim my pharmacy bill from a regular doctor visit?",
        "On Platinum, yes, if the medicine was prescribed by a registered allopathic doctor, within the OPD limit "
        f"of {inr(P['opd_rs'])} per policy year. On Silver and Gold Plus, outpatient medicines are covered only "
        "as part of pre- or post-hospitalisation expenses.")
    add("opd", "Does unused OPD cover roll over?",
        f"No. The Platinum OPD limit of {inr(P['opd_rs'])} resets every policy year, and any unused amount lapses.")

    # --- portability ------------------------------------------------------------------
    port = PORTABILITY
    add("portability", "Can I port my existing health policy to Nilgiri Health?",
        f"Yes. Apply no later than {port['latest_days']} days, and no earlier than {port['earliest_days']} days, "
        "before your current policy's renewal date. The waiting periods you have already served with your previous "
        "insurer are credited up to your previous sum insured.")
    add("portability", "When should I apply for portability?",
        f"Apply between {port['earliest_days']} days and {port['latest_days']} days before your existing policy's "
        "renewal date.")
    add("portability", "Will I lose my waiting period credit if I port?",
        "No. Time already served is credited up to your previous sum insured, including any no-claim bonus. If you "
        "choose a higher sum insured with us, the extra amount has fresh waiting periods.")
    add("portability", "I've had a policy with another company for three years. Will my diabetes be covered if I port?",
        "If your diabetes was declared and covered under your previous policy, those three years of continuous "
        f"cover are credited, so the {PED['Silver']}-month pre-existing disease waiting period is already "
        "complete for your previous sum insured. Any extra sum insured has a fresh waiting period.")
    add("portability", "Can I port out of Nilgiri Health to another insurer?",
        "Yes. You can port your policy to another insurer at renewal, within the same time window. We will share "
        "your policy and claim history with the new insurer.")
    add("portability", "What documents are needed for porting?",
        "You need copies of your current and previous policies, your claim history, and a completed proposal form "
        "and portability form.")
    add("portability", "Is medical underwriting done when I port?",
        "Yes. Porting is subject to our underwriting, which may include a pre-policy check-up, but the credit for "
        "waiting periods already served is protected.")

    # --- tax -----------------------------------------------------------------------
    add("tax_benefit", "Can I save tax with this policy?",
        "Yes. Premiums paid for yourself, your spouse, children and parents qualify for a deduction under Section "
        "80D of the Income Tax Act, under the old tax regime. Tax benefits are subject to changes in tax law.")
    add("tax_benefit", "How much tax deduction can I claim under 80D?",
        f"Up to {inr(TAX['self_family_rs'])} a year for yourself, your spouse and children, or "
        f"{inr(TAX['self_family_senior_rs'])} if you are {TAX['senior_age_years']} years or older. You can claim a "
        f"further {inr(TAX['parents_rs'])} for your parents, or {inr(TAX['parents_senior_rs'])} if they are senior "
        "citizens.")
    add("tax_benefit", "Can I claim 80D for my parents' policy?",
        f"Yes. You can claim up to {inr(TAX['parents_rs'])} for premiums paid for your parents, or "
        f"{inr(TAX['parents_senior_rs'])} if either of them is a senior citizen, in addition to the deduction for "
        "your own family.")
    add("tax_benefit", "I'm 35 and my parents are senior citizens. What is my total 80D limit?",
        f"Your total limit is {inr(TAX['max_young_self_senior_parents_rs'])}: {inr(TAX['self_family_rs'])} for "
        f"your own family and {inr(TAX['parents_senior_rs'])} for your parents.")
    add("tax_benefit", "Is the preventive health check-up deductible?",
        f"Yes. Up to {inr(TAX['preventive_rs'])} spent on preventive health check-ups can be claimed, but it falls "
        "within the overall Section 80D limit rather than on top of it.")
    add("tax_benefit", "Does 80D work under the new tax regime?",
        "No. The Section 80D deduction is available only if you file under the old tax regime.")
    add("tax_benefit", "Will I get 80D if I pay the premium in cash?",
        "No. Premiums must be paid by a non-cash mode to qualify; only preventive health check-ups may be paid in "
        "cash. All our payment methods are non-cash, so premiums paid to us qualify.")
    add("tax_benefit", "How do I get my premium certificate for tax?",
        f"Download it from the {APP}, or email {CARE} and we will send it to your registered email address.")
    add("tax_benefit", "What is the maximum deduction if both I and my parents are seniors?",
        f"{inr(TAX['max_all_senior_rs'])}: {inr(TAX['self_family_senior_rs'])} for yourself and your family and "
        f"{inr(TAX['parents_senior_rs'])} for your parents.")

    # --- contact -------------------------------------------------------------------
    add("contact", "What is the claims helpline number?",
        f"Call {CL_TEL}, our toll-free claims and cashless helpline, open {I['claims_hours']}.")
    add("contact", "What are your customer service hours?",
        f"Our policy service helpline, {SV_TEL}, is open from {I['service_hours']}. Claims and cashless help on "
        f"{CL_TEL} is available round the clock.")
    add("contact", "Can I call you on Sunday?",
        f"For claims and cashless help, yes: {CL_TEL} is open {I['claims_hours']}. The policy service line "
        f"{SV_TEL} is closed on Sundays; it is open from {I['service_hours']}.")
    add("contact", "What email should I use for claims?",
        f"Write to {CLAIMS_EMAIL}. For general policy service, use {CARE}.")
    add("contact", "How do I contact customer care by email?",
        f"Email {CARE} for policy questions and service requests.")
    add("contact", "Is there a mobile app?",
        f"Yes. The {APP} lets you view your e-card, find network hospitals, submit and track claims, book health "
        "check-ups and download tax certificates.")
    add("contact", "What's your website?",
        f"Our website is {WEB}, where you can buy and renew policies, search for network hospitals and download "
        "forms.")
    add("contact", "Are your helpline numbers toll-free?",
        f"Yes. Both {CL_TEL} (claims, round the clock) and {SV_TEL} (policy service) are toll-free.")
    add("contact", "Where is your claims office?",
        f"Our claims department is at {I['claims_address'].split('Ltd., ')[1]}.")
    add("contact", "who do i call at 2 am if my dad needs to be admitted",
        f"Call {CL_TEL}. The claims and cashless helpline is open {I['claims_hours']}, and it can guide you to "
        "the nearest network hospital.")

    # --- grievance -------------------------------------------------------------------
    gr = GRIEVANCE
    add("grievance", "How do I raise a complaint?",
        f"Email {GRIEV}, call {SV_TEL}, or write to our Grievance Redressal Officer. We acknowledge complaints "
        f"within {gr['ack_working_days']} working days and resolve them within {gr['resolve_days']} days.")
    add("grievance", "How long will you take to resolve my complaint?",
        f"We resolve complaints within {gr['resolve_days']} days of receiving them, and acknowledge them within "
        f"{gr['ack_working_days']} working days.")
    add("grievance", "I'm not happy with how my complaint was handled. What next?",
        "You can approach the Insurance Ombudsman if you are not satisfied with our reply, or if we have not "
        f"replied within {gr['ombudsman_no_reply_days']} days. You must do so within "
        f"{gr['ombudsman_within_years']} year of our final reply.")
    add("grievance", "Can I complain to IRDAI?",
        "Yes. You can register a complaint on IRDAI's Bima Bharosa grievance portal, in addition to the Insurance "
        "Ombudsman route.")
    add("grievance", "Does it cost anything to go to the Insurance Ombudsman?",
        "No. Filing a complaint with the Insurance Ombudsman is free of charge.")
    add("grievance", "What is the time limit for approaching the Ombudsman?",
        f"You must approach the Insurance Ombudsman within {gr['ombudsman_within_years']} year of our final reply "
        "to your complaint.")

    # --- disclosure and moratorium ---------------------------------------------------
    add("disclosure", "What is the moratorium period?",
        f"After {MOR} months of continuous cover, we cannot contest a claim or cancel the policy for "
        "non-disclosure or misrepresentation, except where fraud is proven. The period is counted from the start "
        "of your first policy with us.")
    add("disclosure", "I forgot to mention my asthma when buying. What should I do?",
        f"Tell us as soon as possible by writing to {CARE}. We will review it and may update the policy terms, "
        "which is far better than having a claim rejected later for non-disclosure.")
    add("disclosure", "Can you reject my claim for non-disclosure after many years?",
        f"Not after {MOR} months of continuous cover. After the moratorium period, claims cannot be contested for "
        "non-disclosure or misrepresentation unless fraud is proven.")

    # --- policy service -----------------------------------------------------------
    add("policy_service", "How do I change my address or phone number?",
        f"Update it in the {APP}, or email {CARE} from your registered email address. There is no charge for "
        "these changes.")
    add("policy_service", "How can I change my nominee?",
        f"Submit a nominee change request through the {APP} or by email to {CARE}, with the new nominee's name, "
        "relationship and date of birth.")
    add("policy_service", "I lost my policy document. How do I get a copy?",
        f"Download it from the {APP} or the website, or ask for a copy at {CARE}. Your e-card is also available "
        "in the app.")
    add("policy_service", "How do I remove a member from my floater?",
        f"Members can be removed at renewal, for example when a child turns {EL['child_max_age_years']} or moves "
        f"to their own policy. Email {CARE} or use the app.")
    add("policy_service", "Can I correct a spelling mistake in my name on the policy?",
        f"Yes. Email {CARE} with a copy of your ID showing the correct spelling, and we will issue a corrected "
        "policy document and e-card.")

    # --- network hospitals ----------------------------------------------------------
    add("network_hospitals", "How many network hospitals do you have?",
        f"We have {I['network_hospitals']} network hospitals across India where you can get cashless treatment.")
    add("network_hospitals", "What is a network hospital?",
        "A network hospital has an agreement with us to provide cashless treatment to our customers. At these "
        "hospitals, the covered bill is settled directly between us and the hospital.")
    add("network_hospitals", "Is there any advantage to going to a network hospital apart from cashless?",
        "The main advantage is cashless settlement, so you do not need to arrange money upfront for covered "
        "expenses. Treatment at non-network hospitals is covered too, through reimbursement.")

    rows.extend(paraphrase_variants())
    return rows


def paraphrase_variants() -> list[tuple[str, str, str]]:
    """Differently worded versions of common questions, as customers really ask them."""
    v: list[tuple[str, str, str]] = []

    def add(topic: str, question: str, answer: str) -> None:
        v.append((question, answer, topic))

    add("waiting_periods", "How long is the waiting period for existing illnesses?",
        f"Illnesses you already had before joining are covered after {PED['Silver']} months of continuous cover "
        f"on Silver and Gold Plus, or {PED['Platinum']} months on Platinum.")
    add("waiting_periods", "Is there any waiting period when I first buy the policy?",
        f"Yes. Every new policy has an initial {INIT}-day waiting period for illnesses. There are also longer "
        f"waiting periods for pre-existing diseases, maternity and a list of specific illnesses.")
    add("waiting_periods", "Does the policy cover pre-existing conditions at all?",
        f"Yes, once the waiting period is over: {PED['Silver']} months on Silver and Gold Plus, and "
        f"{PED['Platinum']} months on Platinum. You must declare the condition when you buy the policy.")
    add("waiting_periods", "Is my spouse covered from day one if I add her later?",
        f"Accidents are covered from the day she joins, but illnesses are covered only after her own initial "
        f"{INIT}-day waiting period, counted from the date she was added.")
    add("waiting_periods", "Are the waiting periods per person or per policy?",
        "They are per person. Each member's waiting periods are counted from the date that person first joined "
        "the policy.")
    add("waiting_periods", "Will COVID-19 hospitalisation be covered?",
        f"Yes, like any other illness that is not pre-existing, once the initial {INIT}-day waiting period is over.")
    add("cashless_claims", "Whats the number to call for cashless?",
        f"Call {CL_TEL}. It is toll-free and open {I['claims_hours']}.")
    add("cashless_claims", "Do I need to inform you before a planned operation?",
        f"Yes. For cashless treatment, the hospital must send a pre-authorisation request at least "
        f"{C['planned_preauth_hours']} hours before admission. For a reimbursement claim, tell us before you are "
        "admitted.")
    add("cashless_claims", "What do I need to do at discharge after a cashless stay?",
        "Check and sign the final bill and the discharge summary, and pay any amounts not covered, such as "
        f"non-payable items or co-payment. We approve the final bill within {C['discharge_auth_hours']} hours of "
        "receiving it from the hospital.")
    add("reimbursement_claims", "How many days do I have to submit my claim papers?",
        f"{C['reimb_docs_days']} days from the date of discharge. Post-hospitalisation bills can follow within "
        f"{C['post_hosp_docs_days']} days after the post-hospitalisation period ends.")
    add("reimbursement_claims", "How long does it take to get money back on a reimbursement claim?",
        f"We pay within {C['settlement_days']} days of receiving the last required document, or within "
        f"{C['investigation_days']} days if the claim needs an investigation.")
    add("grievance", "My claim was rejected. What can I do?",
        f"Read the reasons in the rejection letter, and if you disagree, write to {GRIEV}. We resolve complaints "
        f"within {GRIEVANCE['resolve_days']} days, and if you are still not satisfied, you can approach the "
        "Insurance Ombudsman.")
    add("cancellation", "Can I cancel my policy and get my money back?",
        f"Yes. Within the {FL}-day free-look period of a new policy, you get the premium back after small "
        "deductions. After that, the refund depends on how long the policy has run, and nothing is refunded if a "
        "claim has been made.")
    add("free_look", "How long is the free look on a new policy?",
        f"{FL} days from the date you receive the policy document.")
    add("ayush", "Do you cover ayurveda treatment in hospital?",
        f"Yes. Inpatient treatment at a government-recognised AYUSH hospital is covered, up to "
        f"{inr(S['ayush_rs'])} a year on Silver and up to the sum insured on Gold Plus and Platinum.")
    add("maternity", "is maternity covered in gold plus",
        f"Yes. Gold Plus covers up to {inr(G['maternity_rs'])} per delivery, after a {MATW}-month waiting period.")
    add("room_rent", "What room am I allowed on a Silver policy?",
        f"Silver covers a room costing up to {S['room_rent_pct']}% of the sum insured per day. A shared room "
        "usually fits within this limit.")
    add("co_payment", "Is there a co-pay for senior citizens?",
        f"Yes, for people who join at {COPAY_AGE} or above: {S['senior_copay_pct']}% of each claim on Silver and "
        f"Gold Plus, and {P['senior_copay_pct']}% on Platinum.")
    add("no_claim_bonus", "How much is the no claim bonus?",
        f"It depends on the plan: {S['ncb_step_pct']}% a year up to {S['ncb_max_pct']}% on Silver, "
        f"{G['ncb_step_pct']}% a year up to {G['ncb_max_pct']}% on Gold Plus, and {P['ncb_step_pct']}% a year up "
        f"to {P['ncb_max_pct']}% on Platinum, all calculated on the base sum insured.")
    add("renewal", "Can I keep renewing after I turn 80?",
        "Yes. Renewal is lifelong, so there is no age at which you have to stop renewing.")
    add("renewal", "Do you offer lifelong renewability?",
        "Yes. All three plans can be renewed for life without any upper age limit.")
    add("grace_period", "What is the last date to pay my renewal premium?",
        f"Pay before the expiry date to stay continuously covered. You can still renew within the grace period: "
        f"{GRACE} days for annual, half-yearly and quarterly payments, and {GRACE_M} days for monthly ones.")
    add("day_care", "Will the policy cover my bill if I'm in hospital for less than a day?",
        f"Yes, if the treatment is one of the {POLICY['day_care_count']} listed day-care procedures. Otherwise, "
        f"hospitalisation must last at least {POLICY['min_hospitalisation_hours']} hours.")
    add("opd", "Is OPD covered under this policy?",
        f"Only on Platinum, up to {inr(P['opd_rs'])} per policy year. Silver and Gold Plus do not cover outpatient "
        "treatment, except as pre- or post-hospitalisation expenses linked to a covered hospital stay.")
    add("contact", "How do I reach the claims team?",
        f"Call {CL_TEL} at any hour, or email {CLAIMS_EMAIL}.")
    add("network_hospitals", "Which hospitals are in your network?",
        f"Search the list of {I['network_hospitals']} network hospitals on {WEB} or in the {APP}. You can also "
        f"call {CL_TEL} to find one near you.")
    add("general", "What is covered under the policy?",
        "All plans cover inpatient hospitalisation, pre- and post-hospitalisation expenses, day-care procedures, "
        "road ambulance, AYUSH treatment, organ donor expenses, modern treatments and inpatient mental health care. "
        "Gold Plus and Platinum add benefits such as maternity, restoration, domiciliary treatment and a health "
        "check-up.")
    add("plans", "What's covered in Gold Plus that isn't in Silver?",
        "Gold Plus adds a single private room instead of a room rent limit, maternity cover, restoration of the "
        "sum insured, domiciliary treatment and an annual health check-up. It also has longer pre- and "
        "post-hospitalisation periods and a faster no-claim bonus.")
    add("plans", "Do I have to pay anything at the hospital if I have Platinum?",
        "Usually very little. Platinum has no room rent limit and covers consumables, so you normally pay only "
        f"any co-payment (if you joined at {COPAY_AGE} or above), items that are excluded, and any amount above "
        "your available sum insured.")
    add("eligibility", "Up to what age can I join?",
        f"Adults can join up to age {EL['adult_max_entry_age_years']}, and children from "
        f"{EL['child_min_age_days']} days old.")
    add("tax_benefit", "Is health insurance premium tax deductible?",
        f"Yes, under Section 80D in the old tax regime: up to {inr(TAX['self_family_rs'])} for your own family "
        f"({inr(TAX['self_family_senior_rs'])} if you are a senior citizen), plus a separate limit for your "
        "parents.")
    return v


# ---------------------------------------------------------------------------
# Held-out test sets
# ---------------------------------------------------------------------------

def build_test_detailed() -> list[tuple[str, str, str]]:
    t: list[tuple[str, str, str]] = []

    def add(topic: str, question: str, answer: str) -> None:
        t.append((question, answer, topic))

    tbl = CANCELLATION["table"]
    add("cashless_claims", "Explain how a cashless claim works from admission to discharge.",
        "Cashless treatment is available only at a network hospital. At admission, you show your e-card and a "
        "government photo ID at the TPA or insurance desk, and the hospital sends a pre-authorisation request, at "
        f"least {C['planned_preauth_hours']} hours before a planned admission or within "
        f"{C['emergency_intimation_hours']} hours of an emergency one. We decide on a complete request within "
        f"{C['preauth_decision_hours']} hour, and if the bill grows, the hospital asks for an enhancement. At "
        f"discharge, the final bill is approved within {C['discharge_auth_hours']} hours of reaching us and "
        "settled directly with the hospital. You pay only what is not covered, such as non-payable items or any "
        "co-payment.")
    add("reimbursement_claims", "Walk me through getting my money back after treatment at a hospital outside your network.",
        f"First, inform us within {C['reimb_intimation_hours']} hours of an emergency admission, or before a "
        f"planned one, by calling {CL_TEL} or emailing {CLAIMS_EMAIL}. Pay the hospital at discharge and collect "
        "the discharge summary, itemised bill, payment receipt, reports, prescriptions and pharmacy bills. Send "
        f"these with the signed claim form, your photo ID and PAN, and your bank details within "
        f"{C['reimb_docs_days']} days of discharge, through the app, by email or by courier. We settle the claim "
        f"within {C['settlement_days']} days of receiving the last document, or within {C['investigation_days']} "
        "days if an investigation is needed, and pay by NEFT.")
    add("waiting_periods", "Can you give me an overview of every waiting period in the policy and when each ends?",
        f"The initial waiting period is {INIT} days from the start of your first policy, and it does not apply to "
        f"accidents. A list of specific illnesses, such as cataract, hernia and kidney stones, has a {SPEC}-month "
        f"waiting period. Pre-existing diseases are covered after {PED['Silver']} months on Silver and Gold Plus, "
        f"or {PED['Platinum']} months on Platinum. Maternity, available on Gold Plus and Platinum, has a "
        f"{MATW}-month waiting period. All of these are counted from the start of your first policy and are "
        "credited as long as you renew without a break.")
    add("room_rent", "How can the Silver plan's room rent limit change what I end up paying in hospital?",
        f"Silver pays room rent up to {S['room_rent_pct']}% of the sum insured per day and ICU charges up to "
        f"{S['icu_pct']}% per day, so a {lakh(5)} policy allows a {inr(E['silver_5_room_rs'])} room. If you choose "
        "a costlier room, you pay the difference in rent, and charges linked to the room, such as doctor's fees, "
        "nursing and operation theatre charges, are cut in the same proportion. For instance, in a "
        f"{inr(E['pd_room_rs'])} room, linked charges of {inr(E['pd_associated_rs'])} would be paid as "
        f"{inr(E['pd_payable_rs'])}. Medicines, consumables, implants and diagnostic tests are not reduced. "
        "Staying in a room within your limit avoids these deductions.")
    add("plans", "I'm choosing cover for a young family. How do the three plans compare?",
        f"Silver is the most affordable, with a sum insured of {si_options(S)}, a room rent limit and no "
        f"maternity cover. Gold Plus offers {si_options(G)}, a single private room, maternity cover of up to "
        f"{inr(G['maternity_rs'])} per delivery, restoration of the sum insured and a yearly health check-up. "
        f"Platinum offers {si_options(P)}, no room rent limit, maternity cover of up to "
        f"{inr(P['maternity_rs'])}, OPD cover and air ambulance. A couple planning children would usually "
        f"look at Gold Plus or Platinum, bearing in mind the {MATW}-month maternity waiting period.")
    add("no_claim_bonus", "Describe how the no-claim bonus builds up and what a claim does to it.",
        "For every claim-free policy year, your sum insured increases without any extra premium. Silver adds "
        f"{S['ncb_step_pct']}% of the base sum insured a year up to {S['ncb_max_pct']}%, Gold Plus adds "
        f"{G['ncb_step_pct']}% a year up to {G['ncb_max_pct']}%, and Platinum adds {P['ncb_step_pct']}% a year up "
        f"to {P['ncb_max_pct']}%. For example, a {lakh(E['ncb_base_lakh'])} Gold Plus policy becomes "
        f"{inr(E['ncb_after_2_rs'])} after two claim-free years. If you make a claim, the bonus is reduced at the "
        "next renewal at the same rate at which it is earned, but your base sum insured is never reduced.")
    add("maternity", "We are planning a baby in a few years. What should we know about maternity cover?",
        f"Maternity is covered only on Gold Plus and Platinum, not on Silver. There is a {MATW}-month waiting "
        "period from the start of the policy, so it makes sense to buy well before you plan a pregnancy. Gold Plus "
        f"pays up to {inr(G['maternity_rs'])} per delivery and Platinum up to {inr(P['maternity_rs'])}, for "
        f"normal or caesarean deliveries, for up to {W['max_deliveries']} deliveries over the life of the policy. "
        "If the mother's maternity cover is active, the newborn is covered from birth until the end of that "
        "policy year.")
    add("co_payment", "My parents are joining in their early sixties. How will co-payment affect their claims?",
        f"Anyone who joins at age {COPAY_AGE} or above pays a share of every admissible claim. The share is "
        f"{S['senior_copay_pct']}% on Silver and Gold Plus and {P['senior_copay_pct']}% on Platinum. On a claim "
        f"of {inr(E['copay_claim_rs'])}, for example, they would pay {inr(E['copay_20_share_rs'])} on Gold Plus "
        f"or {inr(E['copay_10_share_rs'])} on Platinum. The co-payment applies to both cashless and "
        "reimbursement claims and is calculated after non-payable items are removed.")
    add("cancellation", "Tell me everything about cancelling a policy and the refunds involved.",
        f"For a new policy, you have a {FL}-day free-look period from receiving the policy document, during which "
        "you get the premium back after deducting a proportionate premium, stamp duty and any check-up cost. "
        f"After that, the refund depends on how long the policy has run: {tbl[0][1]}% within 30 days, "
        f"{tbl[1][1]}% between 31 and 90 days, {tbl[2][1]}% between 91 and 180 days, and nothing after 180 days. "
        "No refund is paid if a claim has been made in the policy year. Refunds are processed within "
        f"{CANCELLATION['refund_within_days']} days of your written request.")
    add("grace_period", "What exactly happens if my renewal date passes before I pay?",
        f"You have a grace period of {GRACE} days for annual, half-yearly and quarterly payments, and {GRACE_M} "
        "days for monthly instalments. If you pay within it, the policy continues with your waiting-period credit "
        "and no-claim bonus intact. However, any hospitalisation that starts during the gap is not covered. If "
        "you do not pay within the grace period, the policy lapses, and a new policy would start all waiting "
        "periods again.")
    add("portability", "How does switching my health policy from another insurer to you work?",
        f"Apply no later than {PORTABILITY['latest_days']} days and no earlier than {PORTABILITY['earliest_days']} "
        "days before your current policy's renewal date, with your previous policy documents and claim history. "
        "The new policy is subject to our underwriting. Waiting periods you have already served are credited up "
        "to your previous sum insured, including any no-claim bonus. If you choose a higher sum insured, the "
        "extra part has fresh waiting periods.")
    add("tax_benefit", "Explain the income tax benefits of buying this policy for myself and my parents.",
        "Premiums qualify for a deduction under Section 80D, but only under the old tax regime. You can deduct up "
        f"to {inr(TAX['self_family_rs'])} a year for yourself, your spouse and children, or "
        f"{inr(TAX['self_family_senior_rs'])} if you are {TAX['senior_age_years']} or older. Premiums for your "
        f"parents give a further {inr(TAX['parents_rs'])}, or {inr(TAX['parents_senior_rs'])} if they are senior "
        "citizens. Premiums must be paid by a non-cash mode, and preventive health check-ups of up to "
        f"{inr(TAX['preventive_rs'])} count within these limits.")
    add("waiting_periods", "How will the policy treat my diabetes, which I already have?",
        "Declare it in the proposal form; it will be treated as a pre-existing disease. Hospitalisation because of "
        f"diabetes or its complications is covered after {PED['Silver']} months of continuous cover on Silver "
        f"and Gold Plus, or {PED['Platinum']} months on Platinum. Illnesses unrelated to it are covered after the "
        f"initial {INIT}-day waiting period. Hiding it could lead to a claim being rejected, at least until the "
        f"{MOR}-month moratorium period has passed.")
    add("pre_post_hospitalisation", "What costs before and after a hospital stay will the policy pay?",
        "The policy pays for consultations, tests, medicines and similar costs for the same condition before "
        f"admission and after discharge. Silver covers {S['pre_hosp_days']} days before and "
        f"{S['post_hosp_days']} days after, Gold Plus {G['pre_hosp_days']} and {G['post_hosp_days']} days, and "
        f"Platinum {P['pre_hosp_days']} and {P['post_hosp_days']} days. These expenses are paid only if the "
        "hospitalisation claim itself is admissible. Post-hospitalisation bills are claimed by reimbursement "
        f"within {C['post_hosp_docs_days']} days after the period ends.")
    add("restoration", "How does the restore benefit work on a family floater?",
        f"On Gold Plus and Platinum, if the family's sum insured and bonus run out during a policy year, "
        f"{G['restore_pct']}% of the base sum insured is restored once in that year. Any member can use the "
        "restored amount for a later hospitalisation, except the same person for the same illness that used up "
        "the cover. Any unused restored amount lapses at the end of the policy year. Silver does not have this "
        "benefit.")
    add("exclusions", "What are the main things this policy never pays for?",
        "The policy does not pay for cosmetic surgery unless it is reconstructive after an accident, burns or "
        "cancer, or for dental treatment unless an accident needs hospitalisation. Spectacles, contact lenses and "
        "hearing aids, infertility treatment including IVF, obesity treatment and unproven treatments are "
        "excluded. Injuries from adventure sports, self-injury, and alcohol or drug abuse are not covered, nor is "
        "treatment outside India. On Silver and Gold Plus, non-payable items such as gloves and masks are also "
        "not paid.")
    add("grievance", "How do I complain, and where can I go if your answer doesn't satisfy me?",
        f"Email {GRIEV}, call {SV_TEL}, or write to our Grievance Redressal Officer. We acknowledge complaints "
        f"within {GRIEVANCE['ack_working_days']} working days and resolve them within "
        f"{GRIEVANCE['resolve_days']} days. If you are not satisfied, or get no reply within "
        f"{GRIEVANCE['ombudsman_no_reply_days']} days, you can approach the Insurance Ombudsman free of charge, "
        f"within {GRIEVANCE['ombudsman_within_years']} year of our final reply. You can also register a "
        "complaint on IRDAI's Bima Bharosa portal.")
    add("day_care", "Explain what day-care treatment means and how the policy covers it.",
        "Day-care treatment is a procedure that needs less than a full day in hospital because of modern "
        f"technology, such as chemotherapy, dialysis or cataract surgery. {POLICY['day_care_count'].capitalize()} "
        "such procedures are covered on all plans up to the sum insured, even though the usual "
        f"{POLICY['min_hospitalisation_hours']}-hour stay is not needed. They can be done cashless at network "
        "hospitals, and pre- and post-hospitalisation expenses apply as usual. Procedures on the specific illness "
        f"list, such as cataract or lithotripsy, still need the {SPEC}-month waiting period to be over.")
    add("ambulance", "Tell me about the ambulance cover on each plan.",
        f"Road ambulance charges are covered up to {inr(S['ambulance_rs'])} per hospitalisation on Silver, "
        f"{inr(G['ambulance_rs'])} on Gold Plus and {inr(P['ambulance_rs'])} on Platinum. The ambulance can be "
        "from any registered service, and the cover applies to an emergency trip to hospital or a transfer to "
        "another hospital on the doctor's advice. Platinum also covers air ambulance up to "
        f"{inr(P['air_ambulance_rs'])} per policy year for life-threatening emergencies. Ambulance costs are paid "
        "only when the hospitalisation is covered, and not for the trip home.")
    add("plans", "Apart from hospital bills, what extra benefits come with Platinum?",
        f"Platinum covers outpatient consultations, prescribed tests and medicines up to {inr(P['opd_rs'])} a "
        f"year, and a health check-up up to {inr(P['health_checkup_rs'])} every year. It also pays for "
        "consumables such as gloves and masks, which other plans treat as non-payable. Air ambulance is covered "
        f"up to {inr(P['air_ambulance_rs'])} per policy year, and domiciliary treatment up to "
        f"{P['domiciliary_pct']}% of the sum insured.")
    add("ayush", "How is Ayurveda or homeopathy treatment covered across the plans?",
        f"Inpatient treatment under {join_words(AYUSH_SYSTEMS)} is covered when you are admitted for at least "
        f"{POLICY['min_hospitalisation_hours']} hours to a government-recognised AYUSH hospital. Silver pays up to "
        f"{inr(S['ayush_rs'])} per policy year, while Gold Plus and Platinum pay up to the sum insured. Outpatient "
        "AYUSH treatment is not covered, and spa or rejuvenation packages are excluded.")
    add("claim_documents", "What papers do I need for a claim after a road accident, and by when?",
        f"You need {semi_list(CLAIM_DOCUMENTS[:4])}. Add {semi_list(CLAIM_DOCUMENTS[4:])}. Because it was an "
        f"accident, also include {ACCIDENT_DOCUMENTS}. Send everything within {C['reimb_docs_days']} days of "
        "discharge.")
    add("eligibility", "Who exactly can be included in one family floater policy?",
        f"A floater can cover up to {ELIGIBILITY['floater_max_adults']} adults, meaning you and your spouse, and up "
        f"to {ELIGIBILITY['floater_max_children']} dependent children. Children can join from "
        f"{EL['child_min_age_days']} days old and stay until they are {EL['child_max_age_years']} years old. "
        "Parents cannot be on the same floater but can have their own policy, provided they join by age "
        f"{EL['adult_max_entry_age_years']}. Everyone on the floater shares one sum insured.")
    add("disclosure", "What happens if I didn't disclose an illness when I bought the policy?",
        "Non-disclosure of a material fact can lead to a claim being rejected and the policy being cancelled. "
        f"The best course is to write to {CARE} now so that we can review it and update your policy terms. "
        f"Once you have had {MOR} months of continuous cover, we can no longer contest claims for non-disclosure "
        "unless fraud is proven. If the policy is cancelled for fraud, no premium is refunded.")
    add("modern_treatments", "How are modern treatments such as robotic surgery covered?",
        f"Modern treatments, including {join_words(MODERN_TREATMENTS[:5])}, are covered on all three plans. They "
        f"are paid up to {MOD}% of the sum insured per policy year. For example, on a {lakh(10)} Gold Plus "
        f"policy, the limit is {inr(E['modern_gp10_rs'])}. Unproven or experimental treatments remain excluded.")
    return t


def build_test_brief() -> list[tuple[str, str, str]]:
    t: list[tuple[str, str, str]] = []

    def add(topic: str, question: str, answer: str) -> None:
        t.append((question, answer, topic))

    add("specific_illnesses", "Is cataract surgery covered in the first year?",
        f"No. Cataract surgery has a {SPEC}-month waiting period, so it is not covered in the first year.")
    add("maternity", "Does the Silver plan include maternity benefits?",
        "No. Silver does not cover maternity; only Gold Plus and Platinum do.")
    add("pre_post_hospitalisation", "For how many days after discharge does Gold Plus pay for follow-up treatment?",
        f"Gold Plus covers post-hospitalisation expenses for {G['post_hosp_days']} days after discharge.")
    add("contact", "Which number should I ring for a cashless approval at midnight?",
        f"Call {CL_TEL}, which is open {I['claims_hours']}.")
    add("waiting_periods", "Is a fracture from a road accident covered in the first week of the policy?",
        f"Yes. Accidents are covered from the first day, because the {INIT}-day initial waiting period applies "
        "only to illnesses.")
    add("eligibility", "What is the oldest age at which an adult can first enrol?",
        f"Adults can enrol up to age {EL['adult_max_entry_age_years']}.")
    add("eligibility", "Can our daughter, who is twenty-eight, remain on our floater?",
        f"No. Dependent children can stay on a floater only until they are {EL['child_max_age_years']} years old.")
    add("ambulance", "How much will Platinum pay for an air ambulance?",
        f"Platinum pays up to {inr(P['air_ambulance_rs'])} per policy year for air ambulance.")
    add("no_claim_bonus", "What is the most no-claim bonus a Silver policy can accumulate?",
        f"The maximum on Silver is {S['ncb_max_pct']}% of the base sum insured.")
    add("exclusions", "Are fertility treatments like IVF paid for?",
        "No. Infertility treatment, including IVF, is excluded.")
    add("free_look", "How many days do I get to review a new policy and return it?",
        f"You get a free-look period of {FL} days from receiving the policy document.")
    add("reimbursement_claims", "How soon after discharge must my reimbursement paperwork reach you?",
        f"Within {C['reimb_docs_days']} days of discharge.")
    add("room_rent", "Does the Platinum plan restrict which room I can stay in?",
        "No. Platinum covers any room category with no room rent limit.")
    add("co_payment", "What co-pay applies to someone who joins Silver at 62?",
        f"A co-payment of {S['senior_copay_pct']}% applies to every admissible claim.")
    add("health_checkup", "Is a yearly health check-up part of Gold Plus?",
        f"Yes. Gold Plus covers one health check-up every policy year, up to {inr(G['health_checkup_rs'])}.")
    add("grace_period", "How long is the grace period if I pay in monthly instalments?",
        f"The grace period for monthly instalments is {GRACE_M} days.")
    add("exclusions", "Will you reimburse the cost of hearing aids?",
        "No. Hearing aids are excluded on all plans.")
    add("cashless_claims", "How fast is a complete pre-authorisation request decided?",
        f"Within {C['preauth_decision_hours']} hour of receiving the complete request.")
    add("room_rent", "What is the daily room rent limit for a Rs. 5 lakh Silver policy?",
        f"The limit is {inr(E['silver_5_room_rs'])} a day.")
    add("exclusions", "Can I claim for an operation done in Singapore?",
        "No. Only treatment taken in India is covered.")
    add("plans", "What is the largest sum insured offered on Gold Plus?",
        f"The largest Gold Plus sum insured is {lakh(max(G['si_lakh']))}.")
    add("waiting_periods", "How long must a Platinum policyholder wait for pre-existing conditions to be covered?",
        f"Pre-existing conditions are covered after {PED['Platinum']} months on Platinum.")
    add("domiciliary", "Does the Silver plan pay for domiciliary treatment?",
        "No. Domiciliary hospitalisation is covered only on Gold Plus and Platinum.")
    add("modern_treatments", "What share of the sum insured can be used for robotic surgery?",
        f"Up to {MOD}% of the sum insured per policy year.")
    add("grievance", "Within how many days is a complaint resolved?",
        f"Complaints are resolved within {GRIEVANCE['resolve_days']} days of receipt.")
    add("maternity", "What is the maximum maternity payout per delivery on Platinum?",
        f"Platinum pays up to {inr(P['maternity_rs'])} per delivery.")
    add("day_care", "Can I claim chemotherapy if I go home the same day?",
        "Yes. Chemotherapy is covered as a day-care procedure.")
    add("cancellation", "Will I get a refund if I cancel seven months after the start date?",
        "No. There is no refund for cancellations more than 180 days after the start date.")
    add("eligibility", "Can my sixty-eight-year-old mother take out a new policy?",
        f"No. The maximum entry age is {EL['adult_max_entry_age_years']} years.")
    add("opd", "Which plan pays for outpatient consultations?",
        f"Only Platinum, up to {inr(P['opd_rs'])} per policy year.")
    add("disclosure", "After how long can a claim no longer be disputed for non-disclosure?",
        f"After {MOR} months of continuous cover, unless fraud is proven.")
    add("no_claim_bonus", "If I renew during the grace period, is my no-claim bonus kept?",
        "Yes. Renewing within the grace period keeps your no-claim bonus.")
    add("maternity", "How many deliveries will maternity cover pay for?",
        f"Up to {W['max_deliveries']} deliveries over the lifetime of the policy.")
    add("premium", "Does my renewal premium go up because I claimed last year?",
        "No. Renewal premiums are not increased because of claims.")
    add("contact", "Which email address handles claims?",
        f"Claims are handled at {CLAIMS_EMAIL}.")
    add("specific_illnesses", "Once the waiting period is over, how much does Silver pay for cataract surgery per eye?",
        f"Silver pays up to {inr(S['cataract_rs'])} per eye.")
    return t


# ---------------------------------------------------------------------------
# Conversation-memory benchmark
# ---------------------------------------------------------------------------

def build_memory_bench() -> list[dict]:
    convs: list[dict] = []

    def conv(turns: list[tuple[str, str]], final_question: str, reference: str, needed_fact: str) -> None:
        convs.append({
            "id": f"mem-{len(convs) + 1:02d}",
            "turns": [{"user": u, "assistant": a} for u, a in turns],
            "final_question": final_question,
            "reference": reference,
            "needed_fact": needed_fact,
        })

    # Reusable filler exchanges on unrelated topics (none of them mentions a plan or an illness).
    x_helpline = ("What number do I call if I need help with a claim?",
                  f"Call {CL_TEL}, our toll-free claims and cashless helpline. It is open {I['claims_hours']}.")
    x_nominee = ("How do I change my nominee?",
                 f"Submit a nominee change request through the {APP} or by email to {CARE}, with the new nominee's "
                 "name, relationship and date of birth.")
    x_address = ("And if I move house, how do I update my address?",
                 f"Update it in the {APP}, or email {CARE} from your registered email address. There is no charge.")
    x_ecard = ("Where do I find my e-card?",
               f"It is in the {APP}, and it was also emailed to you when the policy was issued.")
    x_network = ("How do I find a network hospital near me?",
                 f"Use the hospital search on {WEB} or in the {APP}, or call {CL_TEL}.")
    x_tax_doc = ("Can I get a premium certificate for my tax return?",
                 f"Yes. Download it from the {APP}, or email {CARE} and we will send it to you.")
    x_website = ("What's your website?",
                 f"It is {WEB}. You can renew, search for hospitals and download forms there.")
    x_claims_email = ("Which email address should I use for claims?",
                      f"Use {CLAIMS_EMAIL}. For general service requests, write to {CARE}.")
    x_service_hours = ("When is customer service open?",
                       f"The policy service line, {SV_TEL}, is open from {I['service_hours']}.")
    x_app = ("Is there an app I can use?",
             f"Yes, the {APP}. You can view your e-card, submit and track claims, and find network hospitals in it.")

    # ---- Needed fact in the FIRST exchange ----------------------------------
    conv([("Hi, I have the Gold Plus plan with a sum insured of Rs. 10 lakh and I have a few questions.",
           "Of course. Ask me anything about your policy and I will do my best to help."),
          x_helpline, x_nominee],
         "What kind of hospital room am I entitled to?",
         "On Gold Plus you are covered for a single private air-conditioned room, and ICU charges are paid in full.",
         "Gold Plus")
    conv([("My father has Silver cover of Rs. 3 lakh.",
           "Thank you. What would you like to know about his policy?"),
          x_ecard, x_network, x_address],
         "How much can he spend on his hospital room each day?",
         f"Up to {inr(E['silver_3_room_rs'])} a day for a room and {inr(E['silver_3_icu_rs'])} a day for the ICU, "
         f"which is {S['room_rent_pct']}% and {S['icu_pct']}% of his sum insured.",
         "Silver cover of Rs. 3 lakh")
    conv([("I need to have cataract surgery soon.",
           "I'm sorry to hear that. I can explain how your cover works for it."),
          ("Do I have to go to a network hospital?",
           "Only if you want cashless treatment. At a non-network hospital you pay first and claim reimbursement."),
          ("What ID should I carry to the hospital?",
           "Carry your e-card and a government photo ID, such as an Aadhaar card, PAN card or passport.")],
         "How long is the waiting period for it?",
         f"Cataract has a specific waiting period of {SPEC} months from the start of your first policy.",
         "cataract")
    conv([("My mother is 63 and we're comparing your plans for her.",
           "Happy to help. She can join any plan, since the maximum entry age is "
           f"{EL['adult_max_entry_age_years']}."),
          x_website, x_service_hours],
         "If she takes Platinum, will she have to pay part of each claim herself?",
         f"Yes. Because she is joining at {COPAY_AGE} or above, she pays a co-payment of {P['senior_copay_pct']}% "
         "of every admissible claim on Platinum.",
         "mother is 63")
    conv([("I'm asking about my Platinum policy.",
           "Sure, go ahead with your question."),
          x_claims_email, x_tax_doc],
         "How long after discharge are my follow-up bills covered?",
         f"On Platinum, post-hospitalisation expenses are covered for {P['post_hosp_days']} days after discharge.",
         "Platinum")
    conv([("I pay my premium monthly by auto-debit.",
           "Thanks for letting me know. What can I help you with?"),
          x_address, x_app, x_nominee],
         "How many days of grace do I have if a payment fails?",
         f"For monthly instalments, the grace period is {GRACE_M} days.",
         "monthly")
    conv([("My family's policy started three weeks ago.",
           "Welcome to Nilgiri Health. How can I help?"),
          x_ecard, x_network],
         "My son has typhoid and the doctor wants to admit him. Will it be covered?",
         f"No. The policy is still within the {INIT}-day initial waiting period, during which illnesses such as "
         "typhoid are not covered; only accidents are.",
         "started three weeks ago")
    conv([("I'm on the Silver plan.",
           "Thanks. What would you like to know?"),
          x_website, x_helpline, x_address],
         "Does my plan pay for an annual health check-up?",
         "No. Silver does not include a health check-up; it is available on Gold Plus and Platinum.",
         "Silver plan")
    conv([("We want to buy cover for my wife, who is due to deliver in four months.",
           "Congratulations! I can explain the options."),
          x_service_hours, x_app],
         "Will the delivery be covered if we buy Gold Plus today?",
         f"No. Maternity on Gold Plus has a {MATW}-month waiting period, so a delivery in four months will not be "
         "covered.",
         "due to deliver in four months")
    conv([("I was admitted to a non-network hospital in Madurai last week and I'm home now.",
           "I hope you are feeling better. I can help you with the next steps."),
          x_tax_doc, x_nominee],
         "So how do I get paid for this?",
         "Cashless is not available at a non-network hospital, so you pay the bill and file a reimbursement claim. "
         f"Send the claim form and documents within {C['reimb_docs_days']} days of discharge; we settle within "
         f"{C['settlement_days']} days of receiving the last document.",
         "non-network hospital")
    conv([("I bought my policy five months ago and I'm thinking of cancelling it.",
           "I'm sorry to hear that. I can explain how cancellation works."),
          x_website, x_ecard],
         "How much of my premium would I get back?",
         f"{CANCELLATION['table'][2][1]}% of the premium, provided no claim has been made, because the policy has "
         "been in force for between 91 and 180 days.",
         "five months ago")
    conv([("I'm paying for my father's policy; he is 58.",
           "Thanks. What would you like to know?"),
          x_service_hours, x_app, x_claims_email],
         "How much of his premium can I deduct under Section 80D?",
         f"Up to {inr(TAX['parents_rs'])} a year under the old tax regime, since he is under "
         f"{TAX['senior_age_years']}. This is in addition to the limit for your own family.",
         "he is 58")
    conv([("I have Gold Plus with Rs. 10 lakh cover.",
           "Good to know. How can I help?"),
          x_nominee, x_network],
         "If I go two years without a claim, what will my total cover be?",
         f"{inr(E['ncb_after_2_rs'])}. Gold Plus adds {G['ncb_step_pct']}% of the base sum insured for each "
         f"claim-free year, so two claim-free years add {E['ncb_two_year_pct']}%.",
         "Gold Plus with Rs. 10 lakh")
    conv([("My daughter needs her tonsils removed.",
           "I hope she feels better soon. I can help you understand the cover."),
          x_ecard, x_helpline, x_address],
         "Our policy has been running for three years. Is the operation covered?",
         f"Yes. Tonsillectomy has a {SPEC}-month waiting period, which you have completed, and it is covered as a "
         "day-care procedure.",
         "tonsils")
    conv([("My brother is going to donate a kidney to me.",
           "That is very generous of him. I can explain how the policy helps."),
          x_claims_email, x_service_hours],
         "Will his hospital bills be paid too?",
         "Yes. The donor's hospitalisation for harvesting the kidney is covered within your sum insured, but his "
         "pre- and post-hospitalisation expenses are not.",
         "donate a kidney")
    conv([("I hurt my back while paragliding in Bir last month.",
           "I'm sorry to hear that. I hope you are recovering well."),
          x_website, x_tax_doc, x_app],
         "Can I claim for the hospital stay?",
         "No. Injuries from hazardous or adventure sports, such as paragliding, are excluded.",
         "paragliding")
    conv([("I had a policy with another insurer for three years and moved it to Nilgiri Health on Silver with "
           "the same sum insured.",
           "Welcome aboard. I can help with any questions about your ported policy."),
          x_ecard, x_nominee],
         "Is my existing diabetes covered now?",
         "Yes, if it was declared and covered under your previous policy. The three years you served are credited, "
         f"so the {PED['Silver']}-month pre-existing disease waiting period on Silver is already complete for the "
         "same sum insured.",
         "another insurer for three years")
    conv([("I'm asking about my parents: my mother is on Platinum and my father is on Silver.",
           "Thanks. What would you like to know?"),
          x_helpline, x_website, x_service_hours],
         "Which of them is covered for an air ambulance?",
         f"Only your mother. Platinum covers air ambulance up to {inr(P['air_ambulance_rs'])} per policy year, "
         "while Silver does not cover it.",
         "mother is on Platinum")

    # ---- Needed fact in a MIDDLE exchange --------------------------------------
    conv([("How long is the free-look period?",
           f"It is {FL} days from the date you receive the policy document."),
          ("I'm thinking of buying Platinum for myself.",
           "That is our most comprehensive plan. What would you like to know?"),
          x_claims_email],
         "With that plan, how long would I wait for my existing asthma to be covered?",
         f"{PED['Platinum']} months. Asthma you already have is a pre-existing disease, and Platinum covers "
         f"pre-existing diseases after {PED['Platinum']} months of continuous cover.",
         "Platinum")
    conv([x_website,
          ("My annual policy expired four days ago.",
           "Thanks for telling me. Let me know what you would like to do."),
          x_helpline],
         "Can I still renew without losing my benefits?",
         f"Yes. Annual policies have a {GRACE}-day grace period, so you can renew now and keep your benefits, "
         "but any hospitalisation between the expiry date and the payment is not covered.",
         "expired four days ago")
    conv([x_network,
          (f"The hospital has offered me a room costing {inr(E['pd_room_rs'])} a day, and I'm on a "
           f"{lakh(5)} Silver policy.",
           "Thanks, that helps. What would you like to check?"),
          x_ecard],
         f"If the doctor's fees and nursing charges come to {inr(E['pd_associated_rs'])}, how much of that will "
         "you pay?",
         f"{inr(E['pd_payable_rs'])}. Your room limit is {inr(E['pd_eligible_rs'])} a day, so linked charges are "
         f"paid in the ratio of {inr(E['pd_eligible_rs'])} to {inr(E['pd_room_rs'])}, and you pay the difference "
         "in room rent too.",
         "Rs. 5 lakh Silver")
    conv([x_app,
          ("I'll be paying my premium quarterly.",
           "Noted. Quarterly payments are collected on the due dates shown in your policy schedule."),
          x_address, x_tax_doc],
         "How long is my grace period if I miss a payment?",
         f"{GRACE} days. Quarterly, half-yearly and annual payments all have a {GRACE}-day grace period.",
         "quarterly")
    conv([x_claims_email,
          ("My parents are both over 60, and I'm 40.",
           "Thanks. What would you like to know?"),
          x_website],
         "How much can I deduct under 80D for the whole family?",
         f"Up to {inr(TAX['max_young_self_senior_parents_rs'])} under the old tax regime: "
         f"{inr(TAX['self_family_rs'])} for your own family and {inr(TAX['parents_senior_rs'])} for your parents, "
         "who are senior citizens.",
         "both over 60")
    conv([x_helpline,
          ("My wife's pregnancy turned out to be ectopic, and she needs surgery.",
           "I'm very sorry to hear that. I can explain the cover."),
          x_network],
         "Is her surgery covered even though our policy is only a year old?",
         "Yes. An ectopic pregnancy is treated as an illness, not maternity, so it is covered once the initial "
         f"{INIT}-day waiting period is over.",
         "ectopic")

    # ---- Needed fact in the LAST exchange ----------------------------------------
    conv([("How long is the free-look period?",
           f"It is {FL} days from the date you receive the policy document."),
          ("How do I book a health check-up?",
           f"Book it in the {APP} or by calling {SV_TEL}. It is done at a network diagnostic centre."),
          ("This is for my Platinum policy. Does it also have OPD cover?",
           f"Yes. Platinum covers OPD consultations, prescribed tests and medicines up to {inr(P['opd_rs'])} per "
           "policy year.")],
         "And what's the limit on the check-up for me?",
         f"{inr(P['health_checkup_rs'])} per policy year on Platinum.",
         "Platinum policy")
    conv([("How does cashless treatment work?",
           "Show your e-card and photo ID at a network hospital's insurance desk; the hospital requests "
           "pre-authorisation and we settle covered expenses directly."),
          x_claims_email,
          ("My father joined Silver at 62.",
           f"Thanks. Since he joined at {COPAY_AGE} or above, a co-payment applies to his claims.")],
         f"So on an admissible claim of {inr(E['copay_claim_rs'])}, how much would we pay ourselves?",
         f"{inr(E['copay_20_share_rs'])}, which is {S['senior_copay_pct']}% of the claim; we would pay "
         f"{inr(E['copay_20_paid_rs'])}.",
         "joined Silver at 62")
    conv([("What is the no-claim bonus?",
           "It increases your sum insured for each claim-free policy year, at no extra premium."),
          ("And what is the restoration benefit?",
           "If your sum insured runs out during a policy year, the base sum insured is restored once for later "
           "hospitalisations, on Gold Plus and Platinum."),
          ("I'm calling about my father's kidney stones. He has had the policy for just over a year.",
           "Thank you. I can tell you how the cover works for him.")],
         "Will his lithotripsy be covered now?",
         f"Not yet. Kidney stones have a {SPEC}-month waiting period, so lithotripsy is covered only after two "
         "years of continuous cover.",
         "kidney stones")
    conv([x_website, x_nominee,
          ("My mother's policy is Gold Plus with Rs. 5 lakh.",
           "Thanks. What would you like to know about her cover?")],
         "How much can she claim if she has to be treated at home?",
         f"Up to {G['domiciliary_pct']}% of the sum insured, which is {inr(E['dom_gp5_rs'])} a year, if she cannot "
         f"be moved to hospital and the treatment lasts more than {DOMICILIARY['min_days']} consecutive days.",
         "Gold Plus with Rs. 5 lakh")
    conv([x_website, x_address,
          ("My surgeon says I need a hernia repair.",
           "I'm sorry to hear that. I can help you understand the cover.")],
         "My policy is eighteen months old. Will you pay for the operation?",
         f"No. Hernia has a {SPEC}-month waiting period, so the operation is not covered until you complete two "
         "years of continuous cover.",
         "hernia")
    conv([x_helpline, x_ecard, x_service_hours,
          ("I'm on the Gold Plus plan, by the way.",
           "Thanks for letting me know. What's your question?")],
         "Is there a limit on cataract surgery for me?",
         f"Yes. Gold Plus pays up to {inr(G['cataract_rs'])} per eye for cataract surgery, after the "
         f"{SPEC}-month waiting period.",
         "Gold Plus plan")
    return convs


# ---------------------------------------------------------------------------
# Policy wording (one block list, rendered to Markdown and to PDF)
# ---------------------------------------------------------------------------
# Block kinds: ("h1", text) ("h2", text) ("h3", text) ("p", text) ("ul", [items])
# ("def", term, text) ("table", [header], [[row], ...]). Inline **bold** is allowed.

def build_policy_blocks() -> list[tuple]:
    b: list[tuple] = []
    h1 = lambda t: b.append(("h1", t))
    h2 = lambda t: b.append(("h2", t))
    h3 = lambda t: b.append(("h3", t))
    para = lambda t: b.append(("p", t))
    ul = lambda items: b.append(("ul", list(items)))
    define = lambda term, text: b.append(("def", term, text))
    table = lambda header, rows: b.append(("table", list(header), [list(r) for r in rows]))
    plans = list(PLANS)
    tbl = CANCELLATION["table"]

    h1(f"{I['name']}: {I['product']} Policy Wording")
    para("**Fictional document.** Nilgiri Health Insurance Ltd., its products, people, addresses, telephone "
         "numbers and email addresses are invented for a software demonstration. This document is not an offer "
         "of insurance and must not be relied on for any real purchase or claim.")

    h2("1. Preamble")
    para(f"This policy is a contract between {I['name']} (\"the Company\", \"we\", \"us\") and the proposer named "
         "in the policy schedule (\"you\"). In return for the premium paid, and relying on the information given "
         "in the proposal form and declarations, we will pay for medically necessary treatment taken in India by "
         "the insured persons during the policy period, subject to the terms, conditions, limits, waiting periods "
         "and exclusions in this document and in the policy schedule.")
    para(f"The policy is called {I['product']} and is available in three plans: Silver, Gold Plus and Platinum. "
         "The plan, the sum insured and the insured persons are shown in your policy schedule. Claims are "
         f"processed on our behalf by {TPA}, our third-party administrator.")

    h2("2. Definitions")
    para("Words in this policy have the meanings given below. Words in the singular include the plural, and the "
         "other way round.")
    define("Accident", "A sudden, unforeseen and involuntary event caused by external, visible and violent means.")
    define("Admissible claim", "The part of a claim that is payable under the policy after applying all terms, "
           "limits, deductions and co-payment.")
    define("AYUSH hospital", f"A government-recognised hospital providing inpatient treatment under "
           f"{join_words(AYUSH_SYSTEMS)}.")
    define("Cashless facility", "An arrangement under which we settle the covered expenses of treatment at a "
           "network hospital directly with the hospital, to the extent pre-authorised.")
    define("Co-payment", "The percentage of each admissible claim that the insured person bears. It does not "
           "reduce the sum insured.")
    define("Congenital anomaly", "A condition present from birth. An internal congenital anomaly is not visible "
           "from outside the body; an external congenital anomaly is visible.")
    define("Day-care treatment", f"Medical treatment or surgery that, because of technological advances, needs "
           f"less than {POLICY['min_hospitalisation_hours']} hours in a hospital or day-care centre and would "
           f"otherwise have needed hospitalisation. {POLICY['day_care_count'].capitalize()} listed day-care "
           "procedures are covered.")
    define("Domiciliary hospitalisation", "Treatment at home for an illness or injury that would normally need "
           "hospitalisation, when the patient's condition does not allow transfer to a hospital or no hospital bed "
           "is available.")
    define("Family floater", "A single policy under which all insured persons share one sum insured.")
    define("Grace period", f"The period after the renewal due date within which the premium may be paid without "
           f"loss of continuity: {GRACE} days for annual, half-yearly and quarterly payment, and {GRACE_M} days "
           "for monthly payment. Cover is not available for hospitalisation that begins during the grace period.")
    define("Hospital", "An institution registered as a hospital with the local authorities, or one that has at "
           f"least {POLICY['hospital_beds_small_town']} inpatient beds in towns with a population of less than 10 "
           f"lakh ({POLICY['hospital_beds_elsewhere']} inpatient beds elsewhere). In either case it must have "
           "qualified doctors and nursing staff on duty round the clock, a fully equipped operation theatre where "
           "surgery is performed, and daily patient records open to the Company's inspection.")
    define("Hospitalisation", f"Admission to a hospital for at least {POLICY['min_hospitalisation_hours']} "
           "consecutive inpatient hours, except for day-care treatment.")
    define("Illness", "A sickness, disease or pathological condition that leads to impairment of normal "
           "physiological function and needs medical treatment.")
    define("Insured person", "A person named in the policy schedule as covered under the policy.")
    define("Medically necessary", "Treatment, tests, medicines or a hospital stay that are required for the "
           "medical management of the illness or injury, follow accepted medical practice, and are prescribed by "
           "a medical practitioner.")
    define("Moratorium period", f"After {MOR} months of continuous cover, counted from the start of the first "
           "policy, no claim can be contested and the policy cannot be cancelled for non-disclosure or "
           "misrepresentation, except where fraud is established.")
    define("Network hospital", f"A hospital that has an agreement with the Company or its TPA to provide cashless "
           f"treatment. There are {I['network_hospitals']} network hospitals across India.")
    define("Non-payable items", f"Items such as {join_words(NON_PAYABLE_EXAMPLES)} that are billed by hospitals "
           "but are not payable under the Silver and Gold Plus plans.")
    define("Policy year", f"A period of {POLICY['term_years']} year starting on the policy start date or on any "
           "renewal date.")
    define("Pre-existing disease", "Any condition, ailment, injury or disease that was diagnosed by a physician, "
           "or for which medical advice or treatment was recommended or received, within "
           f"{W['ped_definition_months']} months before the start of the first policy with the Company.")
    define("Pre-hospitalisation and post-hospitalisation expenses", "Medically necessary expenses for the same "
           "condition incurred in the stated number of days before admission and after discharge.")
    define("Proportionate deduction", "If an insured person stays in a room whose rent exceeds the plan's room "
           "rent limit, expenses linked to the room category are paid in the proportion that the eligible room rent "
           "bears to the actual room rent.")
    define("Restoration", "Reinstatement of the base sum insured, once in a policy year, after the sum insured "
           "and any no-claim bonus have been exhausted.")
    define("Sum insured", "The maximum amount the Company will pay in a policy year for all claims under the "
           "policy, shown in the policy schedule. On a family floater it is shared by all insured persons.")
    define("TPA", f"A third-party administrator licensed to process health insurance claims. For this policy, "
           f"the TPA is {TPA}, which acts on the Company's behalf.")
    define("Waiting period", "A period, counted from the start of an insured person's first policy with the "
           "Company, during which specified claims are not payable.")

    h2("3. Plans, Sums Insured and Eligibility")
    h3("3.1 Plans and sum insured options")
    table(["Plan", "Sum insured options", "Room category"],
          [[name, join_words([lakh(x) for x in PLANS[name]["si_lakh"]], "or"),
            {"Silver": f"Room up to {S['room_rent_pct']}% of sum insured per day; ICU up to {S['icu_pct']}% per day",
             "Gold Plus": "Single private air-conditioned room; ICU at actuals",
             "Platinum": "Any room category; no limit"}[name]] for name in plans])
    para("The sum insured may be changed only at renewal. An increase is subject to underwriting, and waiting "
         "periods apply afresh to the increased amount. A decrease keeps the waiting-period credit already earned.")
    h3("3.2 Who can be covered")
    ul([f"Adults: entry age {EL['adult_min_age_years']} to {EL['adult_max_entry_age_years']} years, with lifelong "
        "renewal.",
        f"Dependent children: from {EL['child_min_age_days']} days old until they are "
        f"{EL['child_max_age_years']} years old.",
        f"Family floater: up to {EL['floater_max_adults']} adults (the proposer and spouse) and up to "
        f"{EL['floater_max_children']} dependent children. Parents and parents-in-law may be covered under a "
        "separate policy.",
        f"Applicants aged {EL['medical_test_from_age_years']} years or above must complete a pre-policy health "
        "check-up at a designated centre, at the Company's cost. Younger applicants who declare a health condition "
        "may also be asked for tests."])
    h3("3.3 Premium")
    para(f"Premium may be paid {join_words(POLICY['payment_modes'], 'or')}; monthly premium is collected only by "
         f"e-mandate. We accept {POLICY['payment_methods']}. Premium depends on the plan, the sum insured, the age "
         "band of each insured person and the type of cover. Renewal premium is not increased because of claims; "
         "it changes only with age band or with a product-wide revision approved by the regulator. The following "
         "illustrative annual premiums include all applicable taxes.")
    table(["Plan", "Sum insured", "Cover", "Insured persons", "Annual premium"],
          [[p["plan"], lakh(p["si_lakh"]), p["cover"].capitalize(), p["who"][0].upper() + p["who"][1:],
            inr(p["premium_rs"])] for p in PREMIUMS])

    h2("4. Benefits")
    para("All benefits are subject to the sum insured, the limits in the schedule of benefits (Section 16), the "
         "waiting periods (Section 5) and the exclusions (Section 6).")
    h3("4.1 Inpatient hospitalisation")
    para(f"We pay for medically necessary hospitalisation of at least {POLICY['min_hospitalisation_hours']} "
         "consecutive hours for illness or injury, including room and boarding, nursing, ICU, surgeon's, "
         "anaesthetist's and consultants' fees, operation theatre charges, medicines, blood, oxygen, implants and "
         "diagnostic tests. Room rent is covered according to the plan's room category shown in Section 3.1.")
    h3("4.2 Proportionate deduction")
    para(f"On Silver, if the insured person stays in a room that costs more than {S['room_rent_pct']}% of the sum "
         "insured per day, the room rent difference is not payable, and charges linked to the room category, such "
         "as doctors' fees, nursing and operation theatre charges, are paid in the same proportion as the eligible "
         "room rent to the actual room rent. On Gold Plus, the same rule applies if a room category higher than a "
         "single private air-conditioned room is chosen. Medicines, consumables, implants and diagnostic tests are "
         "never reduced proportionately. Proportionate deduction does not apply on Platinum.")
    para(f"Example: on a {lakh(5)} Silver policy, the eligible room rent is {inr(E['pd_eligible_rs'])} per day. "
         f"If the insured person stays in a room costing {inr(E['pd_room_rs'])} per day and the linked charges are "
         f"{inr(E['pd_associated_rs'])}, we pay {inr(E['pd_payable_rs'])} towards those charges.")
    h3("4.3 Pre- and post-hospitalisation expenses")
    para(f"We pay medical expenses for the same condition incurred {S['pre_hosp_days']} days before admission and "
         f"{S['post_hosp_days']} days after discharge on Silver, {G['pre_hosp_days']} days before and "
         f"{G['post_hosp_days']} days after on Gold Plus, and {P['pre_hosp_days']} days before and "
         f"{P['post_hosp_days']} days after on Platinum, provided the hospitalisation claim is admissible. These "
         "expenses also apply to day-care treatment.")
    h3("4.4 Day-care treatment")
    para(f"{POLICY['day_care_count'].capitalize()} listed day-care procedures are covered up to the sum insured on "
         f"all plans, including {join_words(DAY_CARE_EXAMPLES)}. Procedures for conditions on the "
         "specific illness list are covered only after the relevant waiting period.")
    h3("4.5 Road and air ambulance")
    para(f"We pay road ambulance charges up to {inr(S['ambulance_rs'])} per hospitalisation on Silver, "
         f"{inr(G['ambulance_rs'])} on Gold Plus and {inr(P['ambulance_rs'])} on Platinum, for an emergency "
         "transfer to hospital or a transfer between hospitals on medical advice, by a registered ambulance "
         "service, provided the hospitalisation claim is admissible. Transport home after discharge is not "
         f"covered. Platinum also covers air ambulance up to {inr(P['air_ambulance_rs'])} per policy year for a "
         "life-threatening emergency that needs an urgent transfer road transport cannot provide in time.")
    h3("4.6 AYUSH treatment")
    para(f"We pay for inpatient treatment of at least {POLICY['min_hospitalisation_hours']} hours in an AYUSH "
         f"hospital, up to {inr(S['ayush_rs'])} per policy year on Silver and up to the sum insured on Gold Plus "
         "and Platinum. Outpatient AYUSH treatment is not covered.")
    h3("4.7 Domiciliary hospitalisation")
    para(f"On Gold Plus and Platinum, we pay for domiciliary hospitalisation lasting more than "
         f"{DOMICILIARY['min_days']} consecutive days, up to {G['domiciliary_pct']}% of the sum insured per policy "
         "year, when the treating doctor certifies that the patient cannot be moved to hospital or no hospital bed "
         "is available. This benefit is not available on Silver.")
    h3("4.8 Organ donor expenses")
    para("We pay the inpatient expenses of harvesting an organ from a donor for transplant to an insured person, "
         "up to the sum insured on all plans. The donor's pre- and post-hospitalisation expenses are not covered.")
    h3("4.9 Modern treatments")
    para(f"The following treatments are covered up to {MOD}% of the sum insured per policy year on all plans, "
         f"when medically necessary: {join_words(MODERN_TREATMENTS)}.")
    h3("4.10 Mental illness")
    para("Inpatient treatment for mental illness is covered up to the sum insured on all plans, on the same terms "
         "as any other illness. Treatment for alcohol or drug abuse is excluded.")
    h3("4.11 Maternity and newborn cover")
    para(f"On Gold Plus and Platinum, after a waiting period of {MATW} months, we pay the hospitalisation expenses "
         f"of delivery, normal or caesarean, up to {inr(G['maternity_rs'])} per delivery on Gold Plus and "
         f"{inr(P['maternity_rs'])} per delivery on Platinum, including pre-natal and post-natal hospitalisation. "
         f"Cover is limited to {W['max_deliveries']} deliveries during the lifetime of the policy. A lawful "
         "termination of pregnancy on medical grounds is covered within the same limit; voluntary termination "
         "that is not medically necessary is excluded. Outpatient pre-natal check-ups are not part of this benefit. "
         "Maternity expenses are paid from the sum insured and are not in addition to it. Silver does not cover "
         "maternity.")
    para("If the mother's maternity cover is active, a newborn baby is covered from birth until the end of that "
         "policy year, within the sum insured, and may be added as an insured person at the next renewal. An "
         "ectopic pregnancy is treated as an illness and is covered under the sum insured after the initial "
         "waiting period, on all plans.")
    h3("4.12 Restoration of sum insured")
    para(f"On Gold Plus and Platinum, if the sum insured and any no-claim bonus are exhausted during a policy year, "
         f"we restore {G['restore_pct']}% of the base sum insured once in that policy year. The restored amount may "
         "be used by any insured person for later hospitalisation, except for the same illness of the same insured "
         "person. Unused restored amounts lapse at the end of the policy year.")
    h3("4.13 No-claim bonus")
    para(f"For each claim-free policy year, the sum insured is increased by {S['ncb_step_pct']}% of the base sum "
         f"insured on Silver (maximum {S['ncb_max_pct']}%), {G['ncb_step_pct']}% on Gold Plus (maximum "
         f"{G['ncb_max_pct']}%) and {P['ncb_step_pct']}% on Platinum (maximum {P['ncb_max_pct']}%), without any "
         "additional premium. If a claim is paid in a policy year, the accumulated bonus is reduced at the next "
         "renewal at the same rate at which it is earned; the base sum insured is never reduced. On a family "
         "floater the bonus applies to the shared sum insured. The bonus is preserved if the policy is renewed "
         "within the grace period and is lost if the policy lapses. Use of the health check-up benefit does not "
         "count as a claim.")
    para(f"Example: a Gold Plus policy with a base sum insured of {lakh(E['ncb_base_lakh'])} becomes "
         f"{inr(E['ncb_after_1_rs'])} after one claim-free year and {inr(E['ncb_after_2_rs'])} after two.")
    h3("4.14 Annual health check-up")
    para(f"On Gold Plus and Platinum, each insured person may take one health check-up every policy year at a "
         f"network diagnostic centre, up to {inr(G['health_checkup_rs'])} on Gold Plus and "
         f"{inr(P['health_checkup_rs'])} on Platinum, whether or not a claim has been made. Unused check-ups do not "
         "carry forward.")
    h3("4.15 Outpatient (OPD) cover")
    para(f"On Platinum only, we pay for consultations with registered allopathic doctors, prescribed diagnostic "
         f"tests and prescribed medicines taken on an outpatient basis, up to {inr(P['opd_rs'])} per policy year. "
         "Unused amounts do not carry forward.")
    h3("4.16 Consumables")
    para("On Platinum only, we pay for consumables and other items listed as non-payable, such as "
         f"{join_words(NON_PAYABLE_EXAMPLES)}, when they are used during a covered hospitalisation.")

    h2("5. Waiting Periods")
    para("Waiting periods are counted from the start of each insured person's first Family Health Shield policy "
         "and are credited on continuous renewal. Time already served is also credited on migration between our "
         "plans, on portability from another insurer, and when a child moves from a floater to his or her own "
         "policy, up to the previous sum insured. Waiting periods start afresh for any increase in the sum insured, "
         "for benefits that were not previously held, and for a new policy after a lapse.")
    h3("5.1 Initial waiting period")
    para(f"Claims for any illness that begins within {INIT} days of the start of the first policy are not payable. "
         "This does not apply to accidents, or to renewals without a break.")
    h3("5.2 Specific illnesses and procedures")
    para(f"The following are covered only after {SPEC} months of continuous cover, on all plans:")
    ul(SPECIFIC_ILLNESSES)
    para("If a listed condition is also a pre-existing disease, the longer of the two waiting periods applies. If "
         "a listed condition is caused by cancer, it is covered after the initial waiting period, unless the cancer "
         "is itself pre-existing.")
    h3("5.3 Pre-existing diseases")
    para(f"Pre-existing diseases declared in the proposal and accepted by us are covered after {PED['Silver']} "
         f"months of continuous cover on Silver and Gold Plus, and after {PED['Platinum']} months on Platinum.")
    h3("5.4 Maternity")
    para(f"Maternity benefits on Gold Plus and Platinum are payable after {MATW} months of continuous cover. If an "
         "insured person migrates from Silver, the maternity waiting period starts on the date of migration.")

    h2("6. Exclusions")
    para("We will not pay for any expenses caused by, arising from or attributable to the following:")
    ul([text for _, text in EXCLUSIONS])
    para(f"Non-payable items, such as {join_words(NON_PAYABLE_EXAMPLES)}, are not paid on Silver and Gold Plus. "
         "Internal congenital anomalies are covered, subject to the pre-existing disease waiting period where "
         "applicable.")

    h2("7. Co-payment and Sub-limits")
    para(f"An insured person who joins the policy at age {COPAY_AGE} or above bears a co-payment of "
         f"{S['senior_copay_pct']}% of every admissible claim on Silver and Gold Plus and "
         f"{P['senior_copay_pct']}% on Platinum. The co-payment is based on age at entry and does not apply to an "
         "insured person who joined younger and later reaches that age. It is applied to the admissible claim "
         "after all other deductions, and applies to both cashless and reimbursement claims. For example, on an "
         f"admissible claim of {inr(E['copay_claim_rs'])}, the insured person bears {inr(E['copay_20_share_rs'])} "
         f"on Gold Plus and {inr(E['copay_10_share_rs'])} on Platinum.")
    para(f"Cataract surgery is paid up to {inr(S['cataract_rs'])} per eye on Silver and {inr(G['cataract_rs'])} "
         "per eye on Gold Plus, and up to the sum insured on Platinum. Other sub-limits are shown in Section 16.")

    h2("8. Claims Procedure")
    h3("8.1 Cashless claims")
    ul(["Cashless treatment is available only at network hospitals. Present the e-card and a government photo "
        "identity document at the hospital's TPA or insurance desk.",
        f"For a planned admission, the hospital must send the pre-authorisation request at least "
        f"{C['planned_preauth_hours']} hours before admission. For an emergency admission, it must be sent within "
        f"{C['emergency_intimation_hours']} hours of admission.",
        f"We decide on a complete pre-authorisation request within {C['preauth_decision_hours']} hour, and on the "
        f"final discharge authorisation within {C['discharge_auth_hours']} hours of receiving the final bill. "
        "If the estimate increases, the hospital must send an enhancement request.",
        "At discharge, the insured person pays non-payable items, co-payment, amounts above plan limits and any "
        "proportionate deduction. The balance of the admissible claim is settled directly with the hospital.",
        "Denial of cashless treatment is not a rejection of the claim. The insured person may pay the hospital and "
        "submit a reimbursement claim."])
    h3("8.2 Reimbursement claims")
    ul([f"Notify the claim within {C['reimb_intimation_hours']} hours of an emergency admission, or before a "
        f"planned admission, by calling {CL_TEL} or writing to {CLAIMS_EMAIL}.",
        f"Submit the claim documents within {C['reimb_docs_days']} days of discharge, through the {APP}, by email, "
        f"or by courier to {I['claims_address']}.",
        f"Submit post-hospitalisation bills within {C['post_hosp_docs_days']} days after the end of the "
        "post-hospitalisation period.",
        "Claims submitted late are considered if the delay was due to reasons beyond the insured person's control, "
        "explained in writing."])
    h3("8.3 Claim documents")
    ul([d[0].upper() + d[1:] for d in CLAIM_DOCUMENTS] +
       [f"For an accident, {ACCIDENT_DOCUMENTS}, where one was prepared"])
    para("Scanned copies may be submitted online. Originals must be kept and produced if we ask for them.")
    h3("8.4 Settlement")
    para(f"We settle or reject a claim within {C['settlement_days']} days of receiving the last necessary document. "
         f"Where an investigation is needed, we complete it and settle the claim within {C['investigation_days']} "
         "days. If we delay payment beyond these limits, we pay interest at "
         f"{C['interest_above_bank_rate_pct']}% above the bank rate for the period of delay. Claims are paid by "
         "NEFT to the proposer's bank account, and every deduction is explained in the settlement letter.")

    h2("9. Free-look Period")
    para(f"A new policy (not a renewal) may be reviewed for {FL} days from the date the policy document is "
         "received. If the policy is cancelled within this period and no claim has been made, we refund the premium "
         "after deducting the proportionate premium for the period of cover, stamp duty and the cost of any "
         "pre-policy medical check-up.")

    h2("10. Cancellation")
    h3("10.1 Cancellation by the proposer")
    para("The proposer may cancel the policy at any time by written request. Provided no claim has been made "
         "during the policy year, the premium is refunded as follows. Cancelling a family floater ends the cover "
         f"for all insured persons. Refunds are processed within {CANCELLATION['refund_within_days']} days of the "
         "request.")
    table(["Period the policy has been in force", "Refund of premium"],
          [[period, f"{pct}%" if pct else "No refund"] for period, pct in tbl])
    h3("10.2 Cancellation by the Company")
    para("We may cancel the policy only on grounds of established fraud, misrepresentation or non-disclosure of "
         "material facts, subject to the moratorium period. No premium is refunded when the policy is cancelled for "
         "fraud.")

    h2("11. Renewal, Migration, Portability and Disclosure")
    h3("11.1 Renewal and grace period")
    para("The policy is renewable for life and renewal will not be refused because of claims, except on grounds "
         f"of fraud, misrepresentation or non-disclosure. The grace period is {GRACE} days for annual, half-yearly "
         f"and quarterly payment and {GRACE_M} days for monthly payment. Hospitalisation that begins during the "
         "grace period is not covered, but continuity benefits are preserved when the premium is paid within it. "
         "If the premium is not paid within the grace period, the policy lapses. Medical tests are not required "
         "for renewal unless a higher sum insured is requested.")
    h3("11.2 Migration")
    para("At renewal, an insured person may migrate to another plan of this policy. Waiting periods already "
         "served are credited up to the existing sum insured.")
    h3("11.3 Portability")
    para(f"A person insured with another insurer may port to this policy by applying no later than "
         f"{PORTABILITY['latest_days']} days and no earlier than {PORTABILITY['earliest_days']} days before the "
         "renewal date of the existing policy. Portability is subject to underwriting. Waiting periods served are "
         "credited up to the previous sum insured, including any accumulated no-claim bonus. Insured persons may "
         "also port out of this policy to another insurer at renewal.")
    h3("11.4 Disclosure and moratorium")
    para(f"Non-disclosure or misrepresentation of material facts may lead to rejection of a claim or cancellation "
         f"of the policy. After the moratorium period of {MOR} months of continuous cover, no claim will be "
         "contested on these grounds except in case of established fraud.")

    h2("12. Adding and Removing Insured Persons")
    para(f"New insured persons are added at renewal. A newly married spouse may be added within "
         f"{EL['spouse_midterm_days']} days of the marriage on payment of pro-rata premium, and a newborn is "
         "covered as described in Section 4.11. Waiting periods for a new insured person start from the date he or "
         f"she is added. Dependent children are removed at the renewal after they turn {EL['child_max_age_years']} "
         "and may take their own policy with credit for waiting periods served.")

    h2("13. Tax Benefit")
    para(f"Premiums paid by a non-cash mode may qualify for deduction under Section 80D of the Income Tax Act, "
         f"1961, under the old tax regime: up to {inr(TAX['self_family_rs'])} for self, spouse and dependent "
         f"children ({inr(TAX['self_family_senior_rs'])} if the taxpayer is {TAX['senior_age_years']} years or "
         f"older), and a further {inr(TAX['parents_rs'])} for parents ({inr(TAX['parents_senior_rs'])} if a "
         f"parent is a senior citizen). Preventive health check-ups of up to {inr(TAX['preventive_rs'])} fall "
         "within these limits. Tax benefits are subject to changes in tax law.")

    h2("14. Grievance Redressal")
    para(f"Complaints may be made by email to {GRIEV}, by calling {SV_TEL}, or in writing to the Grievance "
         f"Redressal Officer at our claims address. We acknowledge complaints within "
         f"{GRIEVANCE['ack_working_days']} working days and resolve them within {GRIEVANCE['resolve_days']} days. "
         "If the complainant is not satisfied with our reply, or receives no reply within "
         f"{GRIEVANCE['ombudsman_no_reply_days']} days, he or she may approach the Insurance Ombudsman, free of "
         f"charge, within {GRIEVANCE['ombudsman_within_years']} year of our final reply. Complaints may also be "
         "registered on IRDAI's Bima Bharosa portal.")

    h2("15. Contact Details")
    ul([f"Claims and cashless helpline (toll-free): {CL_TEL}, {I['claims_hours']}",
        f"Policy service helpline (toll-free): {SV_TEL}, {I['service_hours']}",
        f"Claims email: {CLAIMS_EMAIL}",
        f"Customer care email: {CARE}",
        f"Grievance email: {GRIEV}",
        f"Website: {WEB}; mobile app: {APP}",
        f"Claims address: {I['claims_address']}"])

    h2("16. Schedule of Benefits")

    def per_plan(fn):
        return [fn(PLANS[name]) for name in plans]

    rows = [
        ["Sum insured options"] + per_plan(lambda p: join_words([lakh(x) for x in p["si_lakh"]], "or")),
        ["Room rent"] + [f"Up to {S['room_rent_pct']}% of sum insured per day", "Single private AC room",
                         "Any room"],
        ["ICU"] + [f"Up to {S['icu_pct']}% of sum insured per day", "Actual charges", "Actual charges"],
        ["Pre-hospitalisation"] + per_plan(lambda p: f"{p['pre_hosp_days']} days"),
        ["Post-hospitalisation"] + per_plan(lambda p: f"{p['post_hosp_days']} days"),
        ["Day-care procedures"] + ["Covered up to sum insured"] * 3,
        ["Road ambulance (per hospitalisation)"] + per_plan(lambda p: inr(p["ambulance_rs"])),
        ["Air ambulance (per policy year)"] + per_plan(
            lambda p: inr(p["air_ambulance_rs"]) if p["air_ambulance_rs"] else "Not covered"),
        ["AYUSH (inpatient)"] + per_plan(
            lambda p: f"Up to {inr(p['ayush_rs'])} per policy year" if p["ayush_rs"] else "Up to sum insured"),
        ["Domiciliary hospitalisation"] + per_plan(
            lambda p: f"Up to {p['domiciliary_pct']}% of sum insured" if p["domiciliary_pct"] else "Not covered"),
        ["Modern treatments"] + [f"Up to {MOD}% of sum insured per policy year"] * 3,
        ["Organ donor expenses"] + ["Up to sum insured"] * 3,
        ["Cataract (per eye)"] + per_plan(
            lambda p: inr(p["cataract_rs"]) if p["cataract_rs"] else "Up to sum insured"),
        ["Maternity (per delivery)"] + per_plan(
            lambda p: f"{inr(p['maternity_rs'])} after {MATW} months" if p["maternity_rs"] else "Not covered"),
        ["Restoration"] + per_plan(
            lambda p: f"{p['restore_pct']}% once per policy year" if p["restore_pct"] else "Not available"),
        ["No-claim bonus"] + per_plan(
            lambda p: f"{p['ncb_step_pct']}% per claim-free year, maximum {p['ncb_max_pct']}%"),
        ["Health check-up (per policy year)"] + per_plan(
            lambda p: f"Up to {inr(p['health_checkup_rs'])}" if p["health_checkup_rs"] else "Not covered"),
        ["OPD (per policy year)"] + per_plan(
            lambda p: f"Up to {inr(p['opd_rs'])}" if p["opd_rs"] else "Not covered"),
        ["Consumables"] + per_plan(lambda p: "Covered" if p["consumables"] else "Not covered"),
        ["Pre-existing disease waiting period"] + per_plan(lambda p: f"{p['ped_months']} months"),
        ["Specific illness waiting period"] + [f"{SPEC} months"] * 3,
        ["Initial waiting period"] + [f"{INIT} days"] * 3,
        [f"Co-payment (entry age {COPAY_AGE} or above)"] + per_plan(lambda p: f"{p['senior_copay_pct']}%"),
    ]
    table(["Benefit"] + plans, rows)
    return b


def blocks_to_markdown(blocks: list[tuple]) -> str:
    out: list[str] = []
    for blk in blocks:
        kind = blk[0]
        if kind == "h1":
            out.append(f"# {blk[1]}")
        elif kind == "h2":
            out.append(f"## {blk[1]}")
        elif kind == "h3":
            out.append(f"### {blk[1]}")
        elif kind == "p":
            out.append(blk[1])
        elif kind == "def":
            out.append(f"**{blk[1]}**: {blk[2]}")
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in blk[1]))
        elif kind == "table":
            header, rows = blk[1], blk[2]
            lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
            out.append("\n".join(lines))
        else:
            raise ValueError(kind)
    return "\n\n".join(out) + "\n"


def write_pdf(blocks: list[tuple], path: Path) -> bool:
    """Render the policy wording blocks to a PDF with fpdf2. Returns False if fpdf2 is missing."""
    try:
        from fpdf import FPDF
        from fpdf.fonts import FontFace
    except ImportError:
        print("WARNING: the Python package 'fpdf2' is not installed, so policy_wording.pdf was NOT written.\n"
              "         Everything else was generated. To build the PDF too, run: pip install fpdf2")
        return False

    class PolicyPDF(FPDF):
        def header(self) -> None:
            if self.page_no() > 1:
                self.set_font("Helvetica", "I", 8)
                self.set_text_color(110, 110, 110)
                self.cell(0, 6, f"{I['name']} - {I['product']} Policy Wording (fictional)", align="R",
                          new_x="LMARGIN", new_y="NEXT")
                self.ln(2)
                self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = PolicyPDF(format="A4")
    pdf.set_creation_date(datetime(2025, 1, 1, tzinfo=timezone.utc))  # fixed, for byte-identical output
    pdf.set_title(f"{I['product']} Policy Wording")
    pdf.set_author(f"{I['name']} (fictional)")
    pdf.set_subject("Sample domain data for Conversational QA Studio")
    pdf.set_creator("assets/make_sample_data.py")
    pdf.set_margins(18, 15, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    for blk in blocks:
        kind = blk[0]
        if kind == "h1":
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 8, blk[1], align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif kind == "h2":
            if pdf.get_y() > pdf.h - 50:
                pdf.add_page()
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 13)
            pdf.multi_cell(0, 7, blk[1], align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "h3":
            if pdf.get_y() > pdf.h - 40:
                pdf.add_page()
            pdf.ln(1)
            pdf.set_font("Helvetica", "B", 11)
            pdf.multi_cell(0, 6, blk[1], align="L", new_x="LMARGIN", new_y="NEXT")
        elif kind in ("p", "def"):
            text = blk[1] if kind == "p" else f"**{blk[1]}**: {blk[2]}"
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, text, markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "ul":
            pdf.set_font("Helvetica", "", 10)
            for item in blk[1]:
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(4, 5, "-")
                pdf.multi_cell(0, 5, item, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif kind == "table":
            header, rows = blk[1], blk[2]
            pdf.set_font("Helvetica", "", 8.5)
            widths = {2: (3, 2), 3: (2, 3, 3), 4: (5, 4, 4, 4), 5: (3, 3, 3, 6, 3)}[len(header)]
            with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.6,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 240))) as tbl:
                for row in [header] + rows:
                    r = tbl.row()
                    for cell_text in row:
                        r.cell(cell_text)
            pdf.ln(3)
        else:
            raise ValueError(kind)
    pdf.output(str(path))
    return True


# ---------------------------------------------------------------------------
# Consistency and quality checks
# ---------------------------------------------------------------------------

DURATION_RE = re.compile(
    r"\b(\d+)((?:[\s-]+(?:consecutive|inpatient|working))*)[\s-]+(day|days|month|months|hour|hours|year|years)\b(?!-care)")
MONEY_RE = re.compile(r"Rs\.\s?\d+(?:,\d+)*(?: (?:lakh|crore))?")
PCT_RE = re.compile(r"\b(\d+)%")


def durations_in(text: str) -> list[str]:
    found = []
    for num, mods, unit in DURATION_RE.findall(text):
        unit = unit if unit.endswith("s") else unit + "s"
        found.append(f"{num} working {unit}" if "working" in mods else f"{num} {unit}")
    return found


def allowed_quantities() -> tuple[set, set, set]:
    """Every duration, rupee amount and percentage stated in the fact sheet."""
    durations, money, pcts = set(), set(), set()

    def walk(obj, key: str = "") -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, k)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v, key)
        elif isinstance(obj, int) and not isinstance(obj, bool):
            if key.endswith("_working_days"):
                durations.add(f"{obj} working days")
            else:
                for suffix in ("days", "months", "hours", "years"):
                    if key.endswith("_" + suffix):
                        durations.add(f"{obj} {suffix}")
            if key.endswith("_rs"):
                money.add(inr(obj))
            if key.endswith("_lakh"):
                money.add(lakh(obj))
            if key.endswith("_pct"):
                pcts.add(f"{obj}%")

    walk(FACTS)
    return durations, money, pcts


def normalise_question(q: str) -> str:
    q = q.lower().translate(str.maketrans({c: " " for c in string.punctuation}))
    return " ".join(q.split())


def jaccard(a: str, b: str) -> float:
    wa, wb = set(normalise_question(a).split()), set(normalise_question(b).split())
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


def sentences(text: str) -> list[str]:
    protected = re.sub(r"\b(Rs|Pvt|Ltd|e\.g|i\.e)\. ", lambda m: m.group(1) + "<DOT> ", text)
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", protected) if s.strip()]


def word_count(markdown: str) -> int:
    return len(re.findall(r"[A-Za-z0-9]+(?:[',./&-][A-Za-z0-9]+)*", markdown))


class CheckError(Exception):
    pass


def run_checks(faq, detailed, brief, memory, policy_md, blocks) -> dict:
    problems: list[str] = []
    stats: dict = {}

    # 1. Sizes.
    if len(faq) < 320:
        problems.append(f"FAQ has only {len(faq)} rows (need at least 320)")
    if not 20 <= len(detailed) <= 30:
        problems.append(f"test_detailed has {len(detailed)} rows (want about 25)")
    if not 30 <= len(brief) <= 40:
        problems.append(f"test_brief has {len(brief)} rows (want about 35)")
    if len(memory) < 24:
        problems.append(f"memory bench has only {len(memory)} conversations (need at least 24)")

    # 2. No duplicate questions anywhere.
    seen: dict[str, str] = {}
    for name, rows in (("faq", faq), ("test_detailed", detailed), ("test_brief", brief)):
        for q, _, _ in rows:
            key = normalise_question(q)
            if key in seen:
                problems.append(f"duplicate question in {name} (also in {seen[key]}): {q!r}")
            seen[key] = name

    # 3. Test questions must not be (near-)copies of training questions.
    train_qs = [q for q, _, _ in faq]
    nearest = []
    for name, rows in (("test_detailed", detailed), ("test_brief", brief)):
        for q, _, _ in rows:
            best = max(train_qs, key=lambda t: jaccard(q, t))
            score = jaccard(q, best)
            nearest.append((score, name, q, best))
            if score >= 0.8:
                problems.append(f"{name} question too close to training (Jaccard {score:.2f}): {q!r} ~ {best!r}")
    nearest.sort(reverse=True)
    stats["overlap_max"] = nearest[0][0]
    stats["overlap_mean"] = sum(n[0] for n in nearest) / len(nearest)
    stats["overlap_top"] = nearest[:3]

    # 4. Every duration, amount and percentage must come from the fact sheet.
    ok_dur, ok_money, ok_pct = allowed_quantities()
    texts: list[tuple[str, str]] = []
    for name, rows in (("faq", faq), ("test_detailed", detailed), ("test_brief", brief)):
        for q, a, topic in rows:
            texts.append((f"{name}/{topic}", q))
            texts.append((f"{name}/{topic}", a))
    for c in memory:
        for t in c["turns"]:
            texts.append((c["id"], t["user"]))
            texts.append((c["id"], t["assistant"]))
        texts.append((c["id"], c["final_question"]))
        texts.append((c["id"], c["reference"]))
    texts.append(("policy_wording", policy_md))
    for where, text in texts:
        for d in durations_in(text):
            if d not in ok_dur:
                problems.append(f"{where}: duration '{d}' is not in the fact sheet: {text[:90]!r}")
        for m in MONEY_RE.findall(text):
            if m not in ok_money:
                problems.append(f"{where}: amount '{m}' is not in the fact sheet: {text[:90]!r}")
        for p in PCT_RE.findall(text):
            if f"{p}%" not in ok_pct:
                problems.append(f"{where}: percentage '{p}%' is not in the fact sheet: {text[:90]!r}")
        if re.search(r"(?<!\.)\.\.(?!\.)", text):
            problems.append(f"{where}: doubled full stop: {text[:90]!r}")
        for bad in ("TODO", "lorem", "ipsum", "placeholder", "{", "}", "None", "  ", " ,", " ."):
            if bad.lower() in text.lower() and not (bad == "  " and where == "policy_wording"):
                problems.append(f"{where}: contains {bad!r}: {text[:90]!r}")

    # 5. Waiting periods: every duration in a waiting-period answer must be one of the waiting periods.
    waiting_set = {f"{INIT} days", f"{SPEC} months", f"{MATW} months", f"{W['ped_definition_months']} months",
                   f"{MOR} months", f"{POLICY['min_hospitalisation_hours']} hours"}
    waiting_set |= {f"{m} months" for m in PED.values()}
    checked_waiting = 0
    for name, rows in (("faq", faq), ("test_detailed", detailed), ("test_brief", brief)):
        for q, a, topic in rows:
            if topic in ("waiting_periods", "specific_illnesses"):
                checked_waiting += 1
                for d in durations_in(a):
                    if d not in waiting_set:
                        problems.append(f"{name}: waiting-period answer has '{d}': {a!r}")
    # Sentence-level rules: months next to "pre-existing" / "maternity" must be the right ones.
    ped_ok = {f"{m} months" for m in PED.values()} | {f"{W['ped_definition_months']} months", f"{MOR} months"}
    for where, text in texts:
        for sent in sentences(text):
            months = [d for d in durations_in(sent) if d.endswith("months")]
            if "maternity" in sent.lower() and "pre-existing" not in sent.lower():
                for d in months:
                    if d != f"{MATW} months":
                        problems.append(f"{where}: maternity sentence with '{d}': {sent!r}")
            if "pre-existing" in sent.lower() and "specific" not in sent.lower() and "maternity" not in sent.lower():
                for d in months:
                    if d not in ped_ok:
                        problems.append(f"{where}: pre-existing sentence with '{d}': {sent!r}")
            # A sentence about one plan's pre-existing waiting period must state that plan's figure.
            plans_named = [n for n in PLANS if n in sent]
            if "pre-existing" in sent.lower() and len(plans_named) == 1 and months:
                if f"{PED[plans_named[0]]} months" not in months:
                    problems.append(f"{where}: wrong pre-existing waiting period for {plans_named[0]}: {sent!r}")
    stats["waiting_rows_checked"] = checked_waiting

    # 6. Answer lengths.
    for q, a, _ in faq:
        if not 1 <= len(sentences(a)) <= 4:
            problems.append(f"FAQ answer has {len(sentences(a))} sentences: {q!r}")
    for q, a, _ in detailed:
        if not 3 <= len(sentences(a)) <= 6:
            problems.append(f"detailed answer has {len(sentences(a))} sentences: {q!r}")
    for q, a, _ in brief:
        ss = sentences(a)
        if len(ss) > 2 or (len(ss) == 2 and ss[0] not in ("Yes.", "No.")):
            problems.append(f"brief answer is not one sentence (or Yes/No plus one): {q!r}")

    # 7. Memory benchmark: the needed fact is in exactly one earlier exchange and not in the final question.
    positions = {"first": 0, "middle": 0, "last": 0}
    for c in memory:
        turns, fact = c["turns"], c["needed_fact"]
        if not 2 <= len(turns) <= 5:
            problems.append(f"{c['id']}: {len(turns)} exchanges (want 2-5)")
        hits = [i for i, t in enumerate(turns) if fact.lower() in (t["user"] + " " + t["assistant"]).lower()]
        exact = [i for i, t in enumerate(turns) if fact in t["user"] or fact in t["assistant"]]
        if len(hits) != 1 or not exact:
            problems.append(f"{c['id']}: needed fact {fact!r} found in exchanges {hits} (need exactly one, exact case)")
            continue
        if fact.lower() in c["final_question"].lower():
            problems.append(f"{c['id']}: needed fact appears in the final question")
        i = hits[0]
        positions["first" if i == 0 else "last" if i == len(turns) - 1 else "middle"] += 1
    stats["memory_positions"] = positions
    if positions["first"] < len(memory) / 2:
        problems.append(f"only {positions['first']} conversations keep the needed fact in the first exchange")
    if positions["last"] < 3:
        problems.append("too few conversations keep the needed fact in the last exchange")

    # 8. Topics: every FAQ topic is covered, and test topics exist in the FAQ.
    faq_topics = {t for _, _, t in faq}
    for name, rows in (("test_detailed", detailed), ("test_brief", brief)):
        for q, _, t in rows:
            if t not in faq_topics:
                problems.append(f"{name}: topic {t!r} is not taught in the FAQ: {q!r}")
    stats["faq_topics"] = len(faq_topics)

    # 9. Policy wording length, and PDF-safe characters.
    stats["policy_words"] = word_count(policy_md)
    if not 2500 <= stats["policy_words"] <= 5000:
        problems.append(f"policy wording has {stats['policy_words']} words (want 2,500-5,000)")
    try:
        policy_md.encode("latin-1")
    except UnicodeEncodeError as exc:
        problems.append(f"policy wording has a character the PDF core font cannot show: {exc}")
    block_text = "\n".join(" ".join(x if isinstance(x, str) else " ".join(map(str, x)) for x in blk[1:])
                           for blk in blocks)
    for bad in ("--", "__", "~~"):
        if bad in block_text:
            problems.append(f"policy wording contains {bad!r}, which the PDF markdown renderer would treat as markup")

    if problems:
        raise CheckError("\n".join(problems))
    return stats


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------

def csv_text(rows: list[tuple[str, str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["question", "answer", "topic"])
    writer.writerows(rows)
    return buf.getvalue()


def write_text(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


def readme_text(faq, detailed, brief, memory, stats) -> str:
    topics = sorted({t for _, _, t in faq})
    pos = stats["memory_positions"]
    total_turns = sum(len(c["turns"]) for c in memory)
    plan_lines = []
    for name, p in PLANS.items():
        extras = []
        if p["maternity_rs"]:
            extras.append(f"maternity {inr(p['maternity_rs'])} per delivery")
        else:
            extras.append("no maternity")
        if p["restore_pct"]:
            extras.append("restoration")
        if p["opd_rs"]:
            extras.append(f"OPD {inr(p['opd_rs'])}/year")
        if p["air_ambulance_rs"]:
            extras.append(f"air ambulance {inr(p['air_ambulance_rs'])}/year")
        plan_lines.append(
            f"- **{name}**: sum insured {join_words([lakh(x) for x in p['si_lakh']], 'or')}; room: "
            f"{ROOM_SHORT[name]}; pre/post-hospitalisation {p['pre_hosp_days']}/{p['post_hosp_days']} days; "
            f"road ambulance {inr(p['ambulance_rs'])} per hospitalisation; pre-existing disease wait "
            f"{p['ped_months']} months; no-claim bonus {p['ncb_step_pct']}% a year up to {p['ncb_max_pct']}%; "
            f"co-payment {p['senior_copay_pct']}% for entry age {COPAY_AGE}+; {', '.join(extras)}.")
    tbl = CANCELLATION["table"]
    return f"""# Sample domain data: {I['name']} (fictional)

Everything in this folder is **fictional**. {I['name']}, its product "{I['product']}", its TPA
({TPA}), addresses, phone numbers and `.example` email addresses were invented for Conversational QA
Studio. The data is modelled on Indian retail health insurance (sums insured in rupees, cashless network
hospitals, TPA, waiting periods, Section 80D) but describes no real insurer or policy. Do not use it for real
insurance decisions.

All files were written for this project from **one fact sheet** (the `FACTS` data at the top of
`make_sample_data.py`), so no file contradicts another.

## Files

| File | What it is | Size |
| --- | --- | --- |
| `make_sample_data.py` | Holds the fact sheet and writes every other file in this folder; runs consistency checks | - |
| `insurer_faq.csv` | Training FAQ, columns `question,answer,topic`; 1-4 sentence answers, including informal and paraphrased questions | {len(faq)} rows, {len(topics)} topics |
| `test_detailed.csv` | Held-out test set, columns `question,answer,topic`; explanation-style questions with 3-6 sentence reference answers | {len(detailed)} rows |
| `test_brief.csv` | Held-out test set, columns `question,answer,topic`; questions with one-sentence or yes/no reference answers | {len(brief)} rows |
| `policy_wording.md` | Policy wording: definitions, benefits, waiting periods, exclusions, claims, cancellation table, grievance, schedule of benefits | {stats['policy_words']:,} words |
| `policy_wording.pdf` | The same policy wording rendered as a multi-page A4 PDF with extractable text | same content as the Markdown |
| `memory_bench.jsonl` | Multi-turn conversations for the conversation-memory benchmark | {len(memory)} conversations, {total_turns} earlier exchanges |

CSV files are UTF-8 (no BOM) with a header row, quoted by Python's `csv` module, one record per line.

### memory_bench.jsonl

One JSON object per line:
`{{"id", "turns": [{{"user", "assistant"}}, ...], "final_question", "reference", "needed_fact"}}`.
The earlier `turns` (2-5 exchanges) establish a fact, such as the customer's plan or illness, that the
`final_question` cannot be answered without. `needed_fact` is an exact substring of exactly one earlier
exchange; `reference` is the correct answer. The needed fact sits in the first exchange in {pos['first']}
conversations (a short window memory loses it), in a middle exchange in {pos['middle']}, and in the last
exchange in {pos['last']}.

## Regenerating

From the repository root:

```
python assets/make_sample_data.py
```

The script needs only the Python standard library, except for the PDF, which needs the pure-Python package
`fpdf2` (`pip install fpdf2`). Without it the script prints a warning and skips only the PDF. Output is
deterministic (no randomness; the PDF has a fixed creation date), so re-running it reproduces the committed
files byte for byte with the same fpdf2 version. If `pypdf` is installed, the script also extracts the PDF's
text and checks that key facts appear in it.

Before writing anything the script checks that:

- the FAQ has at least 320 rows and no two questions (in any file) are equal after lowercasing and removing
  punctuation;
- no test question is a copy or near-copy of a training question: the highest word-overlap (Jaccard) between
  a test question and its nearest training question is {stats['overlap_max']:.2f} (mean
  {stats['overlap_mean']:.2f}); the limit is 0.80;
- every duration ("30 days", "24-month"), rupee amount and percentage in every file appears in the fact sheet,
  every duration in a waiting-period answer is one of the policy's waiting periods, and sentences about
  pre-existing diseases or maternity state the right waiting period for the plan they name;
- answer lengths match each file's style, every test topic is taught in the FAQ, and each memory-bench
  `needed_fact` occurs in exactly one earlier exchange and not in the final question;
- the policy wording has 2,500-5,000 words.

## Key facts (from the fact sheet)

- Insurer: {I['name']}; product: {I['product']}; TPA: {TPA}; {I['network_hospitals']} network hospitals.
{chr(10).join(plan_lines)}
- Waiting periods: initial {INIT} days (not for accidents); specific illnesses {SPEC} months; pre-existing
  diseases {PED['Silver']} months (Silver, Gold Plus) or {PED['Platinum']} months (Platinum); maternity {MATW}
  months. Moratorium after {MOR} months.
- Entry age {EL['adult_min_age_years']}-{EL['adult_max_entry_age_years']} (children {EL['child_min_age_days']}
  days to {EL['child_max_age_years']} years); floater of up to {EL['floater_max_adults']} adults and
  {EL['floater_max_children']} children; lifelong renewal.
- Cashless: pre-authorisation {C['planned_preauth_hours']} hours before a planned admission, within
  {C['emergency_intimation_hours']} hours of an emergency; decision within {C['preauth_decision_hours']} hour;
  discharge approval within {C['discharge_auth_hours']} hours.
- Reimbursement: notify within {C['reimb_intimation_hours']} hours; documents within {C['reimb_docs_days']}
  days of discharge; settlement within {C['settlement_days']} days ({C['investigation_days']} with
  investigation).
- Free look {FL} days. Cancellation refund: {tbl[0][1]}% up to 30 days, {tbl[1][1]}% for 31-90 days,
  {tbl[2][1]}% for 91-180 days, none after 180 days or after a claim.
- Grace period {GRACE} days ({GRACE_M} days for monthly payment); no cover during the grace period.
- Modern treatments up to {MOD}% of the sum insured; day care: {POLICY['day_care_count']} procedures.
- Section 80D: {inr(TAX['self_family_rs'])} ({inr(TAX['self_family_senior_rs'])} for seniors) plus
  {inr(TAX['parents_rs'])} ({inr(TAX['parents_senior_rs'])}) for parents, old tax regime only.
- Claims helpline {CL_TEL} ({I['claims_hours']}); service {SV_TEL} ({I['service_hours']}); {CLAIMS_EMAIL},
  {CARE}, {GRIEV}. Complaints resolved within {GRIEVANCE['resolve_days']} days; then the Insurance Ombudsman.

FAQ topics: {', '.join(topics)}.
"""


def verify_pdf(path: Path) -> str:
    """Optional: extract the PDF's text with pypdf (if installed) and check that key facts are in it."""
    try:
        from pypdf import PdfReader
    except ImportError:
        return "pypdf not installed; PDF text check skipped"
    reader = PdfReader(str(path))
    text = " ".join((page.extract_text() or "") for page in reader.pages)
    text = " ".join(text.split())
    must = [I["name"], CL_TEL, CLAIMS_EMAIL, "Schedule of Benefits", f"{INIT} days",
            f"{SPEC} months", inr(P["air_ambulance_rs"]), "Proportionate deduction", "Bima Bharosa"]
    missing = [m for m in must if m not in text]
    if missing:
        raise CheckError(f"PDF text is missing: {missing}")
    return f"PDF text check passed ({len(reader.pages)} pages, {len(must)} key facts found)"


def main() -> int:
    faq = build_faq()
    detailed = build_test_detailed()
    brief = build_test_brief()
    memory = build_memory_bench()
    blocks = build_policy_blocks()
    policy_md = blocks_to_markdown(blocks)
    try:
        stats = run_checks(faq, detailed, brief, memory, policy_md, blocks)
    except CheckError as exc:
        print("Consistency checks FAILED; nothing was written:\n" + str(exc), file=sys.stderr)
        return 1

    write_text(OUT_DIR / "insurer_faq.csv", csv_text(faq))
    write_text(OUT_DIR / "test_detailed.csv", csv_text(detailed))
    write_text(OUT_DIR / "test_brief.csv", csv_text(brief))
    write_text(OUT_DIR / "policy_wording.md", policy_md)
    write_text(OUT_DIR / "memory_bench.jsonl",
               "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in memory))
    pdf_path = OUT_DIR / "policy_wording.pdf"
    pdf_ok = write_pdf(blocks, pdf_path)
    pdf_note = "fpdf2 is not installed"
    pdf_pages = ""
    if pdf_ok:
        pdf_note = verify_pdf(pdf_path)
        pages = len(re.findall(rb"/Type\s*/Page\b", pdf_path.read_bytes()))
        pdf_pages = f"{pages} pages"
    write_text(OUT_DIR / "README.md", readme_text(faq, detailed, brief, memory, stats))

    print(f"Wrote to {OUT_DIR}:")
    print(f"  insurer_faq.csv      {len(faq)} rows, {stats['faq_topics']} topics")
    print(f"  test_detailed.csv    {len(detailed)} rows")
    print(f"  test_brief.csv       {len(brief)} rows")
    print(f"  policy_wording.md    {stats['policy_words']} words")
    print(f"  policy_wording.pdf   {pdf_pages if pdf_ok else 'NOT written: ' + pdf_note}")
    print(f"  memory_bench.jsonl   {len(memory)} conversations; needed fact position: {stats['memory_positions']}")
    print("  README.md")
    print(f"Checks passed. {stats['waiting_rows_checked']} waiting-period answers checked against the fact sheet.")
    print(f"Test-vs-training question overlap (Jaccard, nearest training question): "
          f"max {stats['overlap_max']:.2f}, mean {stats['overlap_mean']:.2f} (limit 0.80). Closest pairs:")
    for score, name, q, best in stats["overlap_top"]:
        print(f"  {score:.2f}  [{name}] {q!r}  ~  {best!r}")
    if pdf_ok:
        print(pdf_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
