{
  "targets": [
    {
      "target_name": "connengine",
      "sources": ["connengine.c", "framer.c", "tls.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "include_dirs": ["../common"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
