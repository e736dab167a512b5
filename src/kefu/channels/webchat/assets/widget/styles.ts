// The widget's styles, inside its shadow root: nothing leaks into the bank's page and nothing of
// the page's CSS reaches the widget. Every class starts with kefu-wc-.

export const CSS = `
:host{all:initial}
.kefu-wc{--kefu-wc-accent:#b8121b;font:14px/1.5 -apple-system,BlinkMacSystemFont,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Noto Sans SC","Helvetica Neue",Arial,sans-serif;color:#1f2328}
.kefu-wc *,.kefu-wc *::before,.kefu-wc *::after{box-sizing:border-box}
.kefu-wc [hidden]{display:none!important}
.kefu-wc button{font:inherit;cursor:pointer}
.kefu-wc :focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
.kefu-wc-sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.kefu-wc-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;padding:12px 18px;border:0;border-radius:999px;background:var(--kefu-wc-accent);color:#fff;font-size:15px;font-weight:600;box-shadow:0 6px 20px rgba(0,0,0,.25)}
.kefu-wc-launcher svg{width:22px;height:22px;fill:currentColor}
.kefu-wc-badge{min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#fff;color:var(--kefu-wc-accent);font-size:12px;line-height:20px;text-align:center}
.kefu-wc-window{position:fixed;right:20px;bottom:20px;z-index:2147483001;width:380px;height:640px;max-height:calc(100vh - 40px);display:flex;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden}
.kefu-wc-header{display:flex;align-items:center;justify-content:space-between;gap:8px;padding:12px 12px 12px 16px;background:var(--kefu-wc-accent);color:#fff}
.kefu-wc-title{margin:0;font-size:16px;font-weight:600;line-height:1.3}
.kefu-wc-subtitle{margin:0;font-size:12px;opacity:.85}
.kefu-wc-close{flex:none;width:40px;height:40px;border:0;border-radius:50%;background:transparent;color:#fff;font-size:26px;line-height:1}
.kefu-wc-close:hover{background:rgba(255,255,255,.16)}
.kefu-wc-branch-map{flex:none;margin-left:auto;padding:4px 10px;border:1px solid rgba(255,255,255,.7);border-radius:999px;color:#fff;font-size:13px;text-decoration:none;white-space:nowrap}
.kefu-wc-branch-map:hover{background:rgba(255,255,255,.16)}
.kefu-wc-banner{padding:8px 16px;background:#fff7e6;color:#7a4a00;font-size:13px;border-bottom:1px solid #f3e1bd}
.kefu-wc-offer{padding:10px 16px;background:#eef5ff;color:#123;font-size:13px;border-bottom:1px solid #cfe0f7;white-space:pre-wrap}
.kefu-wc-offer-title{display:block;font-weight:600;margin-bottom:4px}
.kefu-wc-offer-disclosure{display:block;margin-top:4px;color:#555;font-size:12px}
.kefu-wc-offer-actions{display:flex;gap:8px;margin-top:8px}
.kefu-wc-offer-actions button{min-height:32px;padding:4px 12px;border-radius:6px;border:1px solid var(--kefu-wc-accent,#0a58ca);background:#fff;color:var(--kefu-wc-accent,#0a58ca);font:inherit;cursor:pointer}
.kefu-wc-offer-actions .kefu-wc-offer-yes{background:var(--kefu-wc-accent,#0a58ca);color:#fff}
.kefu-wc-notice{padding:8px 16px;background:#fdecea;color:#a4161a;font-size:13px}
.kefu-wc-log{flex:1;overflow-y:auto;padding:16px;background:#f4f5f7;display:flex;flex-direction:column;gap:12px;overscroll-behavior:contain}
.kefu-wc-msg{display:flex;flex-direction:column;align-items:flex-start;max-width:85%;align-self:flex-start}
.kefu-wc-msg-in{align-self:flex-end;align-items:flex-end}
.kefu-wc-msg-system{align-self:center;align-items:center;max-width:90%}
.kefu-wc-who{font-size:12px;color:#5c6670;margin-bottom:2px}
.kefu-wc-bubble{padding:8px 12px;border-radius:12px;background:#fff;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.kefu-wc-msg-in .kefu-wc-bubble{background:var(--kefu-wc-accent);color:#fff;border-bottom-right-radius:4px}
.kefu-wc-msg-out .kefu-wc-bubble{border-bottom-left-radius:4px}
.kefu-wc-msg-system .kefu-wc-bubble{background:none;box-shadow:none;color:#5c6670;font-size:12px;text-align:center;padding:0}
.kefu-wc-msg-pending .kefu-wc-bubble,.kefu-wc-msg-failed .kefu-wc-bubble{opacity:.65}
.kefu-wc-card{margin-top:6px;width:100%;min-width:220px;padding:12px;border:1px solid #e1e4e8;border-left:4px solid var(--kefu-wc-accent);border-radius:8px;background:#fff}
.kefu-wc-card-title{margin:0 0 4px;font-size:15px;font-weight:600}
.kefu-wc-card-body{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;color:#3a424a}
.kefu-wc-card-link{display:inline-block;margin-top:8px;color:var(--kefu-wc-accent);font-weight:600;text-decoration:none}
.kefu-wc-card-link:hover{text-decoration:underline}
.kefu-wc-meta{margin-top:2px;font-size:11px;color:#6a737d}
.kefu-wc-meta-failed{color:#a4161a}
.kefu-wc-retry{margin-left:6px;padding:0;border:0;background:none;color:var(--kefu-wc-accent);text-decoration:underline}
.kefu-wc-typing{padding:0 16px 8px;background:#f4f5f7;color:#5c6670;font-size:12px}
.kefu-wc-dot{display:inline-block;width:6px;height:6px;margin-right:3px;border-radius:50%;background:#9aa3ad;animation:kefu-wc-blink 1.2s infinite}
.kefu-wc-dot:nth-child(2){animation-delay:.2s}.kefu-wc-dot:nth-child(3){animation-delay:.4s}
@keyframes kefu-wc-blink{0%,80%,100%{opacity:.25}40%{opacity:1}}
.kefu-wc-quick{display:flex;flex-wrap:wrap;gap:8px;padding:8px 16px;background:#f4f5f7}
.kefu-wc-quick button{padding:6px 12px;border:1px solid var(--kefu-wc-accent);border-radius:999px;background:#fff;color:var(--kefu-wc-accent);font-size:13px}
.kefu-wc-quick button:hover{background:#fff1f1}
.kefu-wc-csat{padding:12px 16px;border-top:1px solid #eceef1;background:#fffdf5}
.kefu-wc-csat fieldset{border:0;margin:0;padding:0;min-width:0}
.kefu-wc-csat legend{padding:0;margin-bottom:6px;font-weight:600}
.kefu-wc-stars{display:flex;gap:4px}
.kefu-wc-star{position:relative;display:inline-block;font-size:28px;line-height:1;color:#c9ced4;cursor:pointer}
.kefu-wc-star input{position:absolute;top:0;left:0;width:100%;height:100%;margin:0;opacity:0;cursor:pointer}
.kefu-wc-star-on{color:#f0a020}
.kefu-wc-star:focus-within{outline:3px solid #ffbf47;border-radius:4px}
.kefu-wc-csat textarea{display:block;width:100%;margin:8px 0;padding:6px 8px;border:1px solid #c9ced4;border-radius:6px;font:inherit;resize:vertical}
.kefu-wc-thanks{margin:0;font-weight:600;color:#1a7f37}
.kefu-wc-ended{padding:12px 16px;border-top:1px solid #eceef1;text-align:center;color:#5c6670}
.kefu-wc-composer{display:flex;flex-direction:column;gap:6px;padding:10px 12px;border-top:1px solid #e1e4e8;background:#fff}
.kefu-wc-input{display:block;width:100%;min-height:48px;max-height:140px;resize:none;padding:8px 10px;border:1px solid #c9ced4;border-radius:8px;font:inherit;font-size:16px;color:inherit;background:#fff}
.kefu-wc-input:disabled{background:#f4f5f7}
.kefu-wc-foot{display:flex;align-items:center;gap:8px}
.kefu-wc-error{flex:1;font-size:12px;color:#a4161a}
.kefu-wc-counter{font-size:12px;color:#6a737d;font-variant-numeric:tabular-nums}
.kefu-wc-counter-over{color:#a4161a;font-weight:600}
.kefu-wc-send,.kefu-wc-primary{min-height:40px;padding:8px 18px;border:0;border-radius:8px;background:var(--kefu-wc-accent);color:#fff;font-weight:600}
.kefu-wc-send:disabled,.kefu-wc-primary:disabled{opacity:.45;cursor:not-allowed}
@media (max-width:480px){
.kefu-wc-window{top:0;left:0;right:0;bottom:0;width:100%;height:100%;max-height:none;border-radius:0}
.kefu-wc-launcher{right:12px;bottom:12px}
}
@media (prefers-reduced-motion:reduce){.kefu-wc-dot{animation:none;opacity:.6}}
`;
