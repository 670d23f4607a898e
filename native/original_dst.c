/* native/: meshlet's SO_ORIGINAL_DST reader. After an iptables REDIRECT the kernel keeps the connection's
 * original destination in conntrack; getsockopt(SOL_IP, SO_ORIGINAL_DST) (IPv4) or
 * getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST) (IPv6) returns it. Exposes getOriginalDst(fd) ->
 * {address, port, family} | null (null when the socket was not redirected or the fd is not a TCP socket). */
#define NAPI_VERSION 8
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static napi_value make_result(napi_env env, const char *addr, int port, int family) {
  napi_value obj, a, p, f;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &a);
  napi_create_int32(env, port, &p);
  napi_create_int32(env, family, &f);
  napi_set_named_property(env, obj, "address", a);
  napi_set_named_property(env, obj, "port", p);
  napi_set_named_property(env, obj, "family", f);
  return obj;
}

static napi_value get_original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value nul;
  int32_t fd = -1;
  napi_get_null(env, &nul);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return nul;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return nul;

  struct sockaddr_storage local;
  socklen_t llen = sizeof(local);
  memset(&local, 0, sizeof(local));
  if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0) return nul;

  char buf[INET6_ADDRSTRLEN];
  if (local.ss_family == AF_INET6) {
    struct sockaddr_in6 dst6;
    socklen_t len6 = sizeof(dst6);
    memset(&dst6, 0, sizeof(dst6));
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst6, &len6) == 0 && dst6.sin6_family == AF_INET6) {
      if (!inet_ntop(AF_INET6, &dst6.sin6_addr, buf, sizeof(buf))) return nul;
      return make_result(env, buf, ntohs(dst6.sin6_port), 6);
    }
    /* A dual-stack socket carrying IPv4 traffic (::ffff:a.b.c.d) keeps an IPv4 conntrack entry. */
    struct sockaddr_in dst4m;
    socklen_t len4m = sizeof(dst4m);
    memset(&dst4m, 0, sizeof(dst4m));
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst4m, &len4m) == 0 && dst4m.sin_family == AF_INET) {
      if (!inet_ntop(AF_INET, &dst4m.sin_addr, buf, sizeof(buf))) return nul;
      return make_result(env, buf, ntohs(dst4m.sin_port), 4);
    }
    return nul;
  }
  if (local.ss_family == AF_INET) {
    struct sockaddr_in dst;
    socklen_t len = sizeof(dst);
    memset(&dst, 0, sizeof(dst));
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0 || dst.sin_family != AF_INET) return nul;
    if (!inet_ntop(AF_INET, &dst.sin_addr, buf, sizeof(buf))) return nul;
    return make_result(env, buf, ntohs(dst.sin_port), 4);
  }
  return nul;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "getOriginalDst", NAPI_AUTO_LENGTH, get_original_dst, NULL, &fn) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "getOriginalDst", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
