// The counter's signature pad (kefu.branch forms): the customer signs once on the canvas; on
// submit the PNG goes into the hidden "signature" field. An empty pad submits nothing, and the
// server refuses the form without a signature (the check that counts is the server's).
import SignaturePad from "signature_pad";

function setUp(canvas) {
  const form = canvas.closest("form");
  const field = form.querySelector("input[name=signature]");
  const pad = new SignaturePad(canvas, { penColor: "#111" });
  const fit = () => {
    // Draw at the screen's pixel density so the signature is not blurred on a tablet.
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    const data = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(data);
  };
  window.addEventListener("resize", fit);
  fit();
  const clear = form.querySelector("[data-signature-clear]");
  if (clear) clear.addEventListener("click", () => pad.clear());
  form.addEventListener("submit", () => {
    field.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
  });
}

document.querySelectorAll("canvas[data-signature-pad]").forEach(setUp);
