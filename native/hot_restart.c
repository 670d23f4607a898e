/* native/: meshlet's hot-restart fd passing. Node has no public API to send file descriptors between unrelated
 * processes, so this addon does the SCM_RIGHTS part of the hot-restart control protocol (src/process/hot-restart-*):
 *   connectUnix(name)                          -> fd of a connected blocking AF_UNIX stream socket ('\0…' = abstract)
 *   sendFds(sockFd, fds[], payload, timeoutMs) -> writes one frame (u32 BE length + payload) with fds attached
 *   recvFds(sockFd, maxFds, timeoutMs)         -> { fds, payload } reads exactly one frame and the fds sent with it
 *   peerCred(sockFd)                           -> { pid, uid, gid } of the connected peer (SO_PEERCRED)
 *   closeFd(fd)
 * Frames are exact-length reads, so JS can keep reading the same socket after one recvFds. Errors are thrown as
 * JS Errors whose `code` is the errno name (ECONNREFUSED, ETIMEDOUT, EMSGSIZE, …). Every wait is bounded by poll(). */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED */
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 64
#define MAX_PAYLOAD (1024 * 1024)

static const char *errno_name(int e) {
  switch (e) {
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EINVAL: return "EINVAL";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOENT: return "ENOENT";
    case ENOTSOCK: return "ENOTSOCK";
    case EPIPE: return "EPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EMFILE: return "EMFILE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EPROTO: return "EPROTO";
    case EACCES: return "EACCES";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, int e, const char *what) {
  char msg[256];
  napi_value m, c, err;
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(e), errno_name(e));
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &err);
  napi_set_named_property(env, err, "code", c);
  napi_throw(env, err);
  return NULL;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is readable (POLLIN) or writable (POLLOUT) before the deadline: 0 ok, else an errno. */
static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return ETIMEDOUT;
    struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
    int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) continue;
    if (p.revents & POLLNVAL) return EBADF;
    if (p.revents & (events | POLLHUP | POLLERR)) return 0;
  }
}

static int get_int_arg(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value connect_unix(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return throw_errno(env, EINVAL, "connectUnix(name)");
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) return throw_errno(env, EINVAL, "connectUnix(name)");
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  /* '@' as the first character names an abstract socket (as in ss/netstat output); JS passes '\0' as '@'. */
  if (len == 0 || len > sizeof(sa.sun_path)) return throw_errno(env, ENAMETOOLONG, "connectUnix");
  memcpy(sa.sun_path, name, len);
  if (name[0] == '@') sa.sun_path[0] = '\0';
  /* node:net (libuv) binds abstract names with the whole, NUL-padded sun_path as the address: match that. */
  socklen_t salen = name[0] == '@' ? (socklen_t)sizeof sa : (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (connect(fd, (struct sockaddr *)&sa, salen) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "connect");
  }
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

static napi_value send_fds(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t sock = -1, timeout = 5000;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return throw_errno(env, EINVAL, "sendFds(sockFd, fds, payload, timeoutMs)");
  if (!get_int_arg(env, argv[0], &sock) || sock < 0) return throw_errno(env, EBADF, "sendFds: socket fd");
  if (argc >= 4 && !get_int_arg(env, argv[3], &timeout)) timeout = 5000;
  uint32_t nfds = 0;
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) return throw_errno(env, EINVAL, "sendFds: fds must be an array");
  napi_get_array_length(env, argv[1], &nfds);
  if (nfds > MAX_FDS) return throw_errno(env, EMSGSIZE, "sendFds: too many fds");
  int fds[MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value v;
    napi_get_element(env, argv[1], i, &v);
    if (!get_int_arg(env, v, &fds[i]) || fds[i] < 0) return throw_errno(env, EBADF, "sendFds: fd");
  }
  void *data = NULL;
  size_t plen = 0;
  bool is_buf = false;
  napi_is_buffer(env, argv[2], &is_buf);
  if (!is_buf || napi_get_buffer_info(env, argv[2], &data, &plen) != napi_ok) return throw_errno(env, EINVAL, "sendFds: payload must be a Buffer");
  if (plen > MAX_PAYLOAD) return throw_errno(env, EMSGSIZE, "sendFds: payload too large");

  unsigned char hdr[4] = { (unsigned char)(plen >> 24), (unsigned char)(plen >> 16), (unsigned char)(plen >> 8), (unsigned char)plen };
  size_t total = 4 + plen, sent = 0;
  int64_t deadline = now_ms() + (timeout > 0 ? timeout : 1);
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; } ctrl;
  while (sent < total) {
    struct iovec iov[2];
    int niov = 0;
    if (sent < 4) {
      iov[niov].iov_base = hdr + sent;
      iov[niov++].iov_len = 4 - sent;
      if (plen) { iov[niov].iov_base = data; iov[niov++].iov_len = plen; }
    } else {
      iov[niov].iov_base = (char *)data + (sent - 4);
      iov[niov++].iov_len = total - sent;
    }
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = niov;
    if (sent == 0 && nfds > 0) {
      /* The fds ride on the frame's first byte; the receiver gets them with its first recvmsg. */
      memset(&ctrl, 0, sizeof ctrl);
      msg.msg_control = ctrl.buf;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int e = wait_fd(sock, POLLOUT, deadline);
        if (e) return throw_errno(env, e, "sendFds: waiting to write");
        continue;
      }
      return throw_errno(env, errno, "sendFds: sendmsg");
    }
    sent += (size_t)n;
  }
  return NULL;
}

/* Reads exactly len bytes into buf, collecting SCM_RIGHTS fds into fds/nfds. 0 or an errno. */
static int recv_exact(int sock, unsigned char *buf, size_t len, int *fds, int *nfds, int max_fds, int64_t deadline, int *truncated) {
  size_t got = 0;
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; } ctrl;
  while (got < len) {
    struct iovec iov = { .iov_base = buf + got, .iov_len = len - got };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = sizeof ctrl.buf;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int e = wait_fd(sock, POLLIN, deadline);
        if (e) return e;
        continue;
      }
      return errno;
    }
    if (msg.msg_flags & MSG_CTRUNC) *truncated = 1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      int *in = (int *)CMSG_DATA(c);
      for (int i = 0; i < k; i++) {
        if (*nfds < max_fds) fds[(*nfds)++] = in[i];
        else { close(in[i]); *truncated = 1; }
      }
    }
    if (n == 0) return ECONNRESET; /* peer closed mid-frame (or before it) */
    got += (size_t)n;
  }
  return 0;
}

static napi_value recv_fds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t sock = -1, max_fds = MAX_FDS, timeout = 5000;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return throw_errno(env, EINVAL, "recvFds(sockFd, maxFds, timeoutMs)");
  if (!get_int_arg(env, argv[0], &sock) || sock < 0) return throw_errno(env, EBADF, "recvFds: socket fd");
  if (argc >= 2 && (!get_int_arg(env, argv[1], &max_fds) || max_fds < 0 || max_fds > MAX_FDS)) max_fds = MAX_FDS;
  if (argc >= 3 && !get_int_arg(env, argv[2], &timeout)) timeout = 5000;
  int64_t deadline = now_ms() + (timeout > 0 ? timeout : 1);
  int fds[MAX_FDS];
  int nfds = 0, truncated = 0;
  unsigned char hdr[4];
  int e = recv_exact(sock, hdr, 4, fds, &nfds, max_fds, deadline, &truncated);
  uint32_t plen = e ? 0 : ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) | hdr[3];
  if (!e && plen > MAX_PAYLOAD) e = EMSGSIZE;
  unsigned char *payload = NULL;
  if (!e && plen) {
    payload = malloc(plen);
    if (!payload) e = ENOMEM;
    else e = recv_exact(sock, payload, plen, fds, &nfds, max_fds, deadline, &truncated);
  }
  if (!e && truncated) e = EMSGSIZE;
  if (e) {
    for (int i = 0; i < nfds; i++) close(fds[i]);
    free(payload);
    return throw_errno(env, e, e == EMSGSIZE ? "recvFds: frame or fd count over the limit" : "recvFds");
  }
  napi_value out, arr, buf;
  napi_create_object(env, &out);
  napi_create_array_with_length(env, (size_t)nfds, &arr);
  for (int i = 0; i < nfds; i++) {
    napi_value v;
    napi_create_int32(env, fds[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  napi_create_buffer_copy(env, plen, payload ? (void *)payload : (void *)hdr, NULL, &buf);
  free(payload);
  napi_set_named_property(env, out, "fds", arr);
  napi_set_named_property(env, out, "payload", buf);
  return out;
}

static napi_value peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !get_int_arg(env, argv[0], &fd) || fd < 0) return throw_errno(env, EBADF, "peerCred");
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, errno, "peerCred: getsockopt(SO_PEERCRED)");
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_int32(env, (int32_t)cred.pid, &v);
  napi_set_named_property(env, out, "pid", v);
  napi_create_uint32(env, (uint32_t)cred.uid, &v);
  napi_set_named_property(env, out, "uid", v);
  napi_create_uint32(env, (uint32_t)cred.gid, &v);
  napi_set_named_property(env, out, "gid", v);
  return out;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || !get_int_arg(env, argv[0], &fd) || fd < 0) return throw_errno(env, EBADF, "closeFd");
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, errno, "closeFd");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  const struct { const char *name; napi_callback cb; } fns[] = {
    { "connectUnix", connect_unix }, { "sendFds", send_fds }, { "recvFds", recv_fds }, { "peerCred", peer_cred }, { "closeFd", close_fd },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn) != napi_ok) return NULL;
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  napi_value max;
  napi_create_int32(env, MAX_FDS, &max);
  napi_set_named_property(env, exports, "MAX_FDS", max);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
