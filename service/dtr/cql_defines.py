"""CQL text of each prefill define, keyed by define name (the policy chooses which appear).

Self-contained FHIR 4.0.1 CQL (explicit `.value` access, no FHIRHelpers). The Python
equivalents in cql_equivalents/besponsa_prefill.py compute the same values; its docstring states
the reading of the contract (CONTRACT: where prefill finds these facts) rule by rule.

Observations count only with status final, amended or corrected; the latest wins by "At" (the
first of effectiveDateTime, effectivePeriod.start, effectiveInstant, issued) compared as a UTC
instant: cql-execution sorts DateTimes by their text, so the sort keys are whole minutes since
1900 in UTC, then second and millisecond ("Minutes", "Second", "Millisecond"); a date or partial
date counts as the start of that period in UTC ("UtcStart"), an undated result sorts first.
Contained Medications are not read: cql-exec-fhir types `contained` as FHIR.Resource, so
`C as FHIR.Medication` would always be null there (and the Python equivalents skip them too).
"""
from service.policies.concepts import SYSTEM as PA

COMMON = """
define function "Coded"(code System.String):
  if code is null then null else System.Code { code: code, system: '""" + PA + """' }

define function "HasCoding"(concept FHIR.CodeableConcept, system System.String, codes List<System.String>):
  exists (concept.coding C where C.system.value = system and C.code.value in codes)

define function "Mentions"(concept FHIR.CodeableConcept, word System.String):
  PositionOf(word, Lower(Coalesce(concept.text.value, ''))) >= 0
    or exists (concept.coding C where PositionOf(word, Lower(Coalesce(C.display.value, ''))) >= 0)
"""

OBSERVATIONS = """
define "Observations":
  [Observation] O where O.status.value in { 'final', 'amended', 'corrected' }

define function "Says"(O FHIR.Observation, snomed List<System.String>, loinc List<System.String>,
    interpretation List<System.String>):
  "HasCoding"(O.value as FHIR.CodeableConcept, 'http://snomed.info/sct', snomed)
    or "HasCoding"(O.value as FHIR.CodeableConcept, 'http://loinc.org', loinc)
    or exists (O.interpretation I
      where "HasCoding"(I, 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', interpretation))

define function "SaysPositive"(O FHIR.Observation):
  "Says"(O, { '10828004', '260373001' }, { 'LA6576-8', 'LA11882-0' }, { 'POS', 'DET' })

define function "SaysNegative"(O FHIR.Observation):
  "Says"(O, { '260385009', '260415000' }, { 'LA6577-6', 'LA11883-8' }, { 'NEG', 'ND' })

define function "CallOf"(O FHIR.Observation):
  if "SaysPositive"(O) and not "SaysNegative"(O) then 'positive'
  else if "SaysNegative"(O) and not "SaysPositive"(O) then 'negative'
  else null

define function "UtcStart"(X System.DateTime):
  if X is null then null
  else if (hour from X) is null
    then DateTime(year from X, Coalesce(month from X, 1), Coalesce(day from X, 1), 0, 0, 0, 0, 0.0)
  else DateTime(year from X, month from X, day from X, hour from X, Coalesce(minute from X, 0),
    Coalesce(second from X, 0), Coalesce(millisecond from X, 0), Coalesce(timezoneoffset from X, 0.0))

define function "At"(O FHIR.Observation):
  "UtcStart"(Coalesce((O.effective as FHIR.dateTime).value, (O.effective as FHIR.Period).start.value,
    (O.effective as FHIR.instant).value, O.issued.value))

define function "Minutes"(O FHIR.Observation):
  duration in minutes between @1900-01-01T00:00:00.000Z and "At"(O)

define function "Second"(O FHIR.Observation):
  second from "At"(O)

define function "Millisecond"(O FHIR.Observation):
  millisecond from "At"(O)
"""

CONDITIONS = """
define function "Icd10"(C FHIR.Coding):
  if C.system.value = 'http://hl7.org/fhir/sid/icd-10-cm' then Upper(Combine(Split(C.code.value, '.'), '')) else null

define "DiagnosisCodings":
  flatten ([Condition] C
    where not exists (C.verificationStatus.coding V where V.code.value in { 'refuted', 'entered-in-error' })
    return C.code.coding)
"""

CD22 = """
define function "PercentOf"(Q FHIR.Quantity):
  if Q is null or Q.comparator.value is not null
    or (Q.system.value is not null and Q.system.value != 'http://unitsofmeasure.org') then null
  else if Coalesce(Q.code.value, Q.unit.value) = '%' then "WithinPercent"(Q.value.value)
  else if Coalesce(Q.code.value, Q.unit.value) = '1' then "WithinPercent"(Round(Q.value.value * 100, 6))
  else null

define function "WithinPercent"(P System.Decimal):
  if P >= 0 and P <= 100 then P else null

define function "Percent"(O FHIR.Observation):
  if "HasCoding"(O.code, 'http://loinc.org', { '14017-8' }) then "PercentOf"(O.value as FHIR.Quantity) else null

define "CD22Observations":
  "Observations" O where "HasCoding"(O.code, 'http://loinc.org', { '14017-8' }) or "Mentions"(O.code, 'cd22')
"""

DEFINES = {
    "AgeInYears": """
define "AgeInYears":
  if (day from Patient.birthDate.value) is null then null else AgeInYears()
""",
    "Diagnosis": """
define "IsBAll":
  exists ("DiagnosisCodings" C where StartsWith("Icd10"(C), 'C910')
    or (C.system.value = 'http://snomed.info/sct' and C.code.value = '277571004'))

define "IsLbl":
  exists ("DiagnosisCodings" C where StartsWith("Icd10"(C), 'C835'))

define "IsOtherNhl":
  exists ("DiagnosisCodings" C where StartsWith("Icd10"(C), 'C82') or StartsWith("Icd10"(C), 'C85')
    or (StartsWith("Icd10"(C), 'C83') and Substring("Icd10"(C), 3, 1) in { '0', '1', '3', '7', '8', '9' }))

define "Diagnosis":
  "Coded"(if "IsBAll" then 'b-all' else if "IsLbl" then 'lbl' else if "IsOtherNhl" then 'nhl-other' else null)
""",
    "DiseaseStatus": """
define "DiseaseStatus":
  "Coded"(if exists ("DiagnosisCodings" C where "Icd10"(C) = 'C9102') then 'relapsed' else null)
""",
    "CD22Percent": """
define "CD22Percent":
  Last(("CD22Observations" O where "Percent"(O) is not null
    return Tuple { m: "Minutes"(O), s: "Second"(O), ms: "Millisecond"(O), percent: "Percent"(O) })
    R sort by m, s, ms).percent
""",
    "CD22Status": """
define "CD22Status":
  "Coded"(Last(("CD22Observations" O where "CallOf"(O) is not null
    return Tuple { m: "Minutes"(O), s: "Second"(O), ms: "Millisecond"(O), result: "CallOf"(O) })
    R sort by m, s, ms).result)
""",
    "PhStatus": """
define "PhStatus":
  "Coded"(Last(("Observations" O
    where "HasCoding"(O.code, 'http://loinc.org', { '21821-4', '21822-2', '21823-0', '21795-0', '46434-7' })
      and "CallOf"(O) is not null
    return Tuple { m: "Minutes"(O), s: "Second"(O), ms: "Millisecond"(O), result: "CallOf"(O) })
    R sort by m, s, ms).result)
""",
    "TKIFailed": """
define "TkiNames":
  { 'imatinib', 'dasatinib', 'nilotinib', 'bosutinib', 'ponatinib',
    'gleevec', 'glivec', 'sprycel', 'tasigna', 'bosulif', 'iclusig' }

define function "IsTki"(concept FHIR.CodeableConcept):
  "HasCoding"(concept, 'http://www.nlm.nih.gov/research/umls/rxnorm', { '282388', '475342', '662281', '1307619', '1364347' })
    or exists ("TkiNames" N where "Mentions"(concept, N))

define "Medications":
  [Medication] M where not (Coalesce(M.status.value, '') = 'entered-in-error')

define function "NamesTki"(concept FHIR.CodeableConcept, ref FHIR.Reference):
  "IsTki"(concept)
    or exists ("TkiNames" N where PositionOf(N, Lower(Coalesce(ref.display.value, ''))) >= 0)
    or exists ("Medications" M where "IsTki"(M.code)
      and (ref.reference.value = 'Medication/' + M.id.value or EndsWith(ref.reference.value, '/Medication/' + M.id.value)))

define "TKIFailed":
  if exists ([MedicationStatement] S
      where not (Coalesce(S.status.value, '') in { 'entered-in-error', 'not-taken' })
        and "NamesTki"(S.medication as FHIR.CodeableConcept, S.medication as FHIR.Reference))
    or exists ([MedicationRequest] R
      where not (Coalesce(R.status.value, '') in { 'entered-in-error', 'cancelled' })
        and not Coalesce(R.doNotPerform.value, false)
        and "NamesTki"(R.medication as FHIR.CodeableConcept, R.medication as FHIR.Reference))
    or exists ([MedicationAdministration] A
      where not (Coalesce(A.status.value, '') in { 'entered-in-error', 'not-done' })
        and "NamesTki"(A.medication as FHIR.CodeableConcept, A.medication as FHIR.Reference))
    or exists ([MedicationDispense] D
      where not (Coalesce(D.status.value, '') in { 'entered-in-error', 'declined', 'cancelled' })
        and "NamesTki"(D.medication as FHIR.CodeableConcept, D.medication as FHIR.Reference))
  then true else null
""",
    "PrescriberIsOncologist": """
define "PrescriberIsOncologist":
  if exists ([PractitionerRole] R where exists (R.specialty S
      where "HasCoding"(S, 'http://nucc.org/provider-taxonomy', { '207RH0003X', '207RX0202X', '2080P0207X' })))
  then true else null
""",
}

# Shared helper fragments each define needs (emitted once, before the defines, in this order).
NEEDS = {"Diagnosis": (CONDITIONS,), "DiseaseStatus": (CONDITIONS,), "CD22Percent": (OBSERVATIONS, CD22),
         "CD22Status": (OBSERVATIONS, CD22), "PhStatus": (OBSERVATIONS,)}
