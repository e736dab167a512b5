"""Web chat (在线客服): the widget a bank embeds in its web site and app web-views, and the
HTTP + Server-Sent Events API behind it. See docs/channels/webchat.md."""
