/* native/: non-Linux stub of the SO_ORIGINAL_DST reader (no netfilter): getOriginalDst always returns null. */
#define NAPI_VERSION 8
#include <node_api.h>

static napi_value get_original_dst(napi_env env, napi_callback_info info) {
  napi_value nul;
  (void)info;
  napi_get_null(env, &nul);
  return nul;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "getOriginalDst", NAPI_AUTO_LENGTH, get_original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "getOriginalDst", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
