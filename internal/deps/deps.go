// Package deps pins, during early development, the modules the project card
// names so that parallel work shares one go.mod. It is removed once every
// module is imported by real code.
package deps

import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	_ "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	_ "github.com/BurntSushi/toml"
	_ "github.com/charmbracelet/bubbles/help"
	_ "github.com/charmbracelet/bubbletea"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/charmbracelet/wish"
	_ "github.com/charmbracelet/x/exp/teatest"
	_ "github.com/creack/pty"
	_ "github.com/klauspost/compress/zstd"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/crypto/xts"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)
