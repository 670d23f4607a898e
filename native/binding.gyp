{
  "targets": [
    {
      "target_name": "original_dst",
      "sources": ["original_dst.c"],
      "cflags": ["-O2", "-Wall"],
      "conditions": [["OS!='linux'", {"sources!": ["original_dst.c"], "sources": ["original_dst_stub.c"]}]]
    },
    {
      "target_name": "hot_restart",
      "sources": ["hot_restart.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
