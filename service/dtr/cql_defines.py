"""CQL text of each prefill define, keyed by define name (the policy chooses which appear).

Self-contained FHIR 4.0.1 CQL (explicit `.value` access, no FHIRHelpers). The Python
equivalents in cql_equivalents/besponsa_prefill.py compute the same values.
"""
PA = "http://example.org/fhir/CodeSystem/pa-criteria"

COMMON = """
define function "Coded"(code System.String):
  if code is null then null else System.Code { code: code, system: '""" + PA + """' }

define function "Active"(status System.String):
  not (Coalesce(status, '') in { 'entered-in-error', 'cancelled' })

define function "HasCoding"(concept FHIR.CodeableConcept, system System.String, codes List<System.String>):
  exists (concept.coding C where C.system.value = system and C.code.value in codes)

define function "Mentions"(concept FHIR.CodeableConcept, word System.String):
  PositionOf(word, Lower(Coalesce(concept.text.value, ''))) >= 0
    or exists (concept.coding C where PositionOf(word, Lower(Coalesce(C.display.value, ''))) >= 0)

define function "ResultOf"(O FHIR.Observation):
  if "HasCoding"(O.value as FHIR.CodeableConcept, 'http://snomed.info/sct', { '10828004' })
    or "HasCoding"(O.value as FHIR.CodeableConcept, 'http://loinc.org', { 'LA6576-8' }) then 'positive'
  else if "HasCoding"(O.value as FHIR.CodeableConcept, 'http://snomed.info/sct', { '260385009' })
    or "HasCoding"(O.value as FHIR.CodeableConcept, 'http://loinc.org', { 'LA6577-6' }) then 'negative'
  else null

define function "When"(O FHIR.Observation):
  Coalesce((O.effective as FHIR.dateTime).value, O.issued.value)

define "Observations":
  [Observation] O where "Active"(O.status.value)
"""

CONDITIONS = """
define function "Icd10"(C FHIR.Coding):
  if C.system.value = 'http://hl7.org/fhir/sid/icd-10-cm' then Upper(Combine(Split(C.code.value, '.'), '')) else null

define "DiagnosisCodings":
  flatten ([Condition] C
    where not exists (C.verificationStatus.coding V where V.code.value in { 'refuted', 'entered-in-error' })
    return C.code.coding)
"""

DEFINES = {
    "AgeInYears": """
define "AgeInYears":
  AgeInYears()
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
  Last(("CD22Observations" O
    where "HasCoding"(O.code, 'http://loinc.org', { '14017-8' }) and "Percent"(O) is not null
    return Tuple { at: "When"(O), percent: "Percent"(O) }) R sort by at).percent
""",
    "CD22Status": """
define function "CD22ResultOf"(O FHIR.Observation):
  Coalesce("ResultOf"(O),
    if "Percent"(O) is null then null else if "Percent"(O) >= 5 then 'positive' else 'negative')

define "CD22Status":
  "Coded"(Last(("CD22Observations" O where "CD22ResultOf"(O) is not null
    return Tuple { at: "When"(O), result: "CD22ResultOf"(O) }) R sort by at).result)
""",
    "PhStatus": """
define "PhStatus":
  "Coded"(Last(("Observations" O
    where "HasCoding"(O.code, 'http://loinc.org', { '21821-4', '21822-2', '21823-0', '21795-0', '46434-7' })
      and "ResultOf"(O) is not null
    return Tuple { at: "When"(O), result: "ResultOf"(O) }) R sort by at).result)
""",
    "TKIFailed": """
define function "IsTki"(concept FHIR.CodeableConcept):
  "HasCoding"(concept, 'http://www.nlm.nih.gov/research/umls/rxnorm', { '282388', '475342', '662281', '1307619', '1364347' })
    or exists (({ 'imatinib', 'dasatinib', 'nilotinib', 'bosutinib', 'ponatinib' }) N where "Mentions"(concept, N))

define "Medications":
  [Medication] M where "Active"(M.status.value)

define function "MedicationConcepts"(concept FHIR.CodeableConcept, ref FHIR.Reference):
  { concept } union ("Medications" M where ('Medication/' + M.id.value) = ref.reference.value return M.code)

define "MedicationConceptsInChart":
  (flatten ([MedicationStatement] S where "Active"(S.status.value)
    return "MedicationConcepts"(S.medication as FHIR.CodeableConcept, S.medication as FHIR.Reference)))
  union (flatten ([MedicationRequest] R where "Active"(R.status.value)
    return "MedicationConcepts"(R.medication as FHIR.CodeableConcept, R.medication as FHIR.Reference)))

define "TKIFailed":
  if exists ("MedicationConceptsInChart" C where "IsTki"(C))
  then true else null
""",
    "PrescriberIsOncologist": """
define "PrescriberIsOncologist":
  if exists ([PractitionerRole] R where exists (R.specialty S
      where "HasCoding"(S, 'http://nucc.org/provider-taxonomy', { '207RH0003X', '207RX0202X', '2080P0207X' })))
  then true else null
""",
}
CD22 = """
define function "Percent"(O FHIR.Observation):
  (O.value as FHIR.Quantity).value.value

define "CD22Observations":
  "Observations" O where "HasCoding"(O.code, 'http://loinc.org', { '14017-8' }) or "Mentions"(O.code, 'cd22')
"""

# Shared helper fragments each define needs (emitted once, before the defines).
NEEDS = {"Diagnosis": (CONDITIONS,), "DiseaseStatus": (CONDITIONS,), "CD22Percent": (CD22,),
         "CD22Status": (CD22,)}
