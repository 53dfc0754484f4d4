module github.com/wasmreg/wasmreg/guest-sdk/go

go 1.24
