/*
 * originalDst(fd) -> { address, port, family }: the destination a connection had before an iptables/nftables
 * REDIRECT rewrote it to the proxy's capture port. Reads SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6)
 * from the accepted socket; the kernel keeps it in the connection-tracking entry. Node-API only, so the built
 * module loads in any Node.js version that supports NAPI_VERSION 8.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>; spelled out so the build needs no
 * kernel headers. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef SOL_IPV6
#define SOL_IPV6 41
#endif

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  char code[32];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  snprintf(code, sizeof code, "E_ORIGINAL_DST_%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

static napi_value set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  if (napi_set_named_property(env, obj, key, v) != napi_ok) return NULL;
  return obj;
}

static napi_value OriginalDst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "originalDst(fd): fd must be a non-negative integer");
    return NULL;
  }

  /* The socket's own family decides which option to ask for. */
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  memset(&local, 0, sizeof local);
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return throw_errno(env, "getsockname", errno);

  struct sockaddr_storage dst;
  memset(&dst, 0, sizeof dst);
  len = sizeof dst;
  int rc;
  if (local.ss_family == AF_INET6) {
    rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len);
    /* An IPv4 connection accepted on a dual-stack socket is tracked as IPv4. */
    if (rc != 0) {
      len = sizeof(struct sockaddr_in);
      rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len);
    }
  } else {
    len = sizeof(struct sockaddr_in);
    rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len);
  }
  if (rc != 0) return throw_errno(env, "getsockopt(SO_ORIGINAL_DST)", errno);

  char text[INET6_ADDRSTRLEN];
  int port;
  const char *family;
  if (dst.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&dst;
    if (!inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text)) return throw_errno(env, "inet_ntop", errno);
    port = ntohs(a->sin6_port);
    family = "IPv6";
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&dst;
    if (!inet_ntop(AF_INET, &a->sin_addr, text, sizeof text)) return throw_errno(env, "inet_ntop", errno);
    port = ntohs(a->sin_port);
    family = "IPv4";
  }

  napi_value out, portValue;
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  if (!set_string(env, out, "address", text)) return NULL;
  if (napi_create_int32(env, port, &portValue) != napi_ok) return NULL;
  if (napi_set_named_property(env, out, "port", portValue) != napi_ok) return NULL;
  if (!set_string(env, out, "family", family)) return NULL;
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, OriginalDst, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "originalDst", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
