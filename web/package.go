package web

import "github.com/gofiber/fiber/v3"

// registerPackage serves evidence certificates and packages (not built yet).
func (s *server) registerPackage(api fiber.Router) {}
