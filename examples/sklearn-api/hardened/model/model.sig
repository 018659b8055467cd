{
  "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
  "verificationMaterial": {
    "publicKey": {
      "hint": "23d9ec4e7b7ba710f35684d297bbe6a6554c8a328907e4ed8a910e704bbc90e9"
    },
    "tlogEntries": []
  },
  "dsseEnvelope": {
    "payload": "ewogICJfdHlwZSI6ICJodHRwczovL2luLXRvdG8uaW8vU3RhdGVtZW50L3YxIiwKICAic3ViamVjdCI6IFsKICAgIHsKICAgICAgIm5hbWUiOiAibW9kZWwiLAogICAgICAiZGlnZXN0IjogewogICAgICAgICJzaGEyNTYiOiAiNWIwMzdjNjU3MzQyY2Q1M2QxMTMxYTc4ODlkZmVlZTliODM0ZTk5YmUxOTQxOGNmYjJhMDkxYjhhMDM4M2Q0NSIKICAgICAgfQogICAgfQogIF0sCiAgInByZWRpY2F0ZVR5cGUiOiAiaHR0cHM6Ly9tb2RlbF9zaWduaW5nL3NpZ25hdHVyZS92MS4wIiwKICAicHJlZGljYXRlIjogewogICAgInNlcmlhbGl6YXRpb24iOiB7CiAgICAgICJtZXRob2QiOiAiZmlsZXMiLAogICAgICAiaGFzaF90eXBlIjogInNoYTI1NiIsCiAgICAgICJhbGxvd19zeW1saW5rcyI6IGZhbHNlLAogICAgICAiaWdub3JlX3BhdGhzIjogWwogICAgICAgICIuZ2l0IiwKICAgICAgICAiLmdpdGF0dHJpYnV0ZXMiLAogICAgICAgICIuZ2l0aHViIiwKICAgICAgICAiLmdpdGlnbm9yZSIsCiAgICAgICAgIm1vZGVsLnNpZyIKICAgICAgXQogICAgfSwKICAgICJyZXNvdXJjZXMiOiBbCiAgICAgIHsKICAgICAgICAibmFtZSI6ICJpcmlzLmpvYmxpYiIsCiAgICAgICAgImFsZ29yaXRobSI6ICJzaGEyNTYiLAogICAgICAgICJkaWdlc3QiOiAiNDE5YTg5NmQ3ZWIwMTI4NmY0M2IyZWQ1MDVjODI1NWVlYmI0NGEwMWI2ZjVmNmUyNTU1MDQ3OTg1NDFkMTIzMSIKICAgICAgfQogICAgXQogIH0KfQ==",
    "payloadType": "application/vnd.in-toto+json",
    "signatures": [
      {
        "sig": "MEQCIEdZY7YiMB3E05PkJIipstKI+1cIgJbCs7ms9NkbVP8YAiB5WcwvHz9C1u74aJ5Ec9TDzyx2WOhMuPWs/+X9ij5lAw==",
        "keyid": ""
      }
    ]
  }
}
