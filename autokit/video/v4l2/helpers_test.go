package v4l2

import (
	"image"
	"image/color"
)

func imageOne() image.Image {
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.Gray{128})
	return img
}
