/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * systemd's notification protocol (sd_notify(3)), spoken directly: one datagram to
 * $NOTIFY_SOCKET. Ten lines do not justify linking libsystemd into a BPF tool.
 */
#ifndef __NOTIFY_H
#define __NOTIFY_H

/* Send "READY=1", "WATCHDOG=1", "STATUS=..."; 0 when there is no manager to tell. */
int notify__send(const char *msg);
/* How often the watchdog wants a ping, seconds (half its timeout); 0 if none is set. */
double notify__watchdog_interval(void);

#endif /* __NOTIFY_H */
