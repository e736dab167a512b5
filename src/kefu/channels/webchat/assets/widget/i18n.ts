// The widget's own string table: Chinese by default, English with data-locale="en".

const zh = {
  launcher: "在线客服",
  title: "在线客服",
  subtitle: "kefu银行 · 7×24 小时",
  close: "关闭",
  log: "聊天记录",
  placeholder: "请输入您的问题…",
  input: "消息内容",
  send: "发送",
  counter: "已输入 {n} 字，最多 {max} 字",
  read: "已读",
  sending: "发送中",
  failed: "发送失败",
  retry: "重新发送",
  tooFast: "发送太频繁，请稍后再试",
  tooLong: "消息过长，最多 2000 字",
  empty: "不能发送空消息",
  queue: "您前面还有 {n} 位客户，请稍候",
  queueNext: "您是下一位，请稍候",
  transferring: "正在为您转接人工客服，请稍候",
  agent: "人工客服 {agent} 为您服务",
  typing: "对方正在输入…",
  details: "查看详情",
  csatTitle: "请为本次服务打分",
  star: "{n} 星",
  csatComment: "其他意见（选填）",
  csatSubmit: "提交评价",
  csatThanks: "感谢您的评价！",
  csatFailed: "评价提交失败，请重试",
  closed: "本次会话已结束",
  newChat: "开始新的会话",
  unavailable: "在线客服暂不可用，请稍后再试",
  forbidden: "当前网站未开通在线客服",
  reconnecting: "网络连接中断，正在重新连接…",
  expired: "您的登录已过期，将以访客身份为您服务",
  connecting: "正在连接在线客服…",
  unread: "{n} 条新消息",
  bot: "智能客服",
  agentLabel: "人工客服",
  system: "系统消息",
  you: "我",
  quickReplies: "常见问题",
  branchMap: "网点排队",
  offer: "为您推荐",
  offerInterested: "我感兴趣",
  offerDismiss: "不感兴趣",
  offerThanks: "已记录您的意向，客服将为您详细介绍。",
};

export type Strings = typeof zh;

const en: Strings = {
  launcher: "Chat",
  title: "Customer service",
  subtitle: "kefu Bank · 24/7",
  close: "Close",
  log: "Conversation",
  placeholder: "Type your question…",
  input: "Message",
  send: "Send",
  counter: "{n} of {max} characters",
  read: "Read",
  sending: "Sending",
  failed: "Not sent",
  retry: "Retry",
  tooFast: "You are sending too fast. Please try again shortly",
  tooLong: "Message too long (2,000 characters at most)",
  empty: "Cannot send an empty message",
  queue: "{n} ahead of you. Please wait",
  queueNext: "You are next, please wait",
  transferring: "Connecting you to an agent, please wait",
  agent: "Agent {agent} is serving you",
  typing: "Typing…",
  details: "Details",
  csatTitle: "How would you rate our service?",
  star: "{n} stars",
  csatComment: "Comments (optional)",
  csatSubmit: "Submit",
  csatThanks: "Thank you for your feedback!",
  csatFailed: "Could not send your rating, please try again",
  closed: "This conversation has ended",
  newChat: "Start a new conversation",
  unavailable: "Chat is unavailable. Please try again later",
  forbidden: "Chat is not enabled for this website",
  reconnecting: "Connection lost, reconnecting…",
  expired: "Your sign-in has expired; you are chatting as a guest",
  connecting: "Connecting…",
  unread: "{n} new messages",
  bot: "Assistant",
  agentLabel: "Agent",
  system: "Notice",
  you: "You",
  quickReplies: "Suggestions",
  branchMap: "Branch queues",
  offer: "Recommended for you",
  offerInterested: "I'm interested",
  offerDismiss: "Not interested",
  offerThanks: "Thank you. An adviser will tell you more.",
};

/** "en", "en_US", "en-GB" → English; anything else → Chinese. */
export function isEnglish(locale: string): boolean {
  return /^en([_-]|$)/i.test(locale.trim());
}

export function strings(locale: string): Strings {
  return isEnglish(locale) ? en : zh;
}

export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (all, key: string) =>
    key in values ? String(values[key]) : all,
  );
}
