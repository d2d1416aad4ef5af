// The clinician's form: render the payer Questionnaire with LHC-Forms, save and submit its response.
(function () {
  const container = document.getElementById("form-container");
  const status = document.getElementById("status");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const questionnaire = JSON.parse(document.getElementById("questionnaire").textContent);
  LForms.Util.addFormToPage(questionnaire, container, { prepopulate: false });

  function response() {
    return LForms.Util.getFormFHIRData("QuestionnaireResponse", "R4", container);
  }
  async function post(url) {
    const r = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(response()) });
    const body = await r.json().catch(() => ({ error: "The service did not answer." }));
    if (!r.ok) throw new Error(body.error || ("Error " + r.status));
    return body;
  }
  document.getElementById("save").addEventListener("click", async () => {
    status.textContent = "Saving…";
    try { await post("/smart/save"); status.textContent = "Saved to the patient's chart."; }
    catch (e) { status.textContent = e.message; }
  });
  document.getElementById("submit").addEventListener("click", async () => {
    status.textContent = "Submitting…";
    try { const body = await post("/smart/submit"); window.location.assign(body.result); }
    catch (e) { status.textContent = e.message; }
  });
})();
